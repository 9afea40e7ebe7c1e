package main

import (
	"os"
	"syscall"
)

// dieWithParent asks the kernel to send SIGTERM when the parent process
// ends (`go run . demo` runs the binary as a child; killing the go command
// must not leave the server and its throwaway cluster behind). SIGTERM
// takes the ordinary shutdown path, which removes the cluster.
func dieWithParent() {
	_, _, errno := syscall.RawSyscall(syscall.SYS_PRCTL, syscall.PR_SET_PDEATHSIG, uintptr(syscall.SIGTERM), 0)
	if errno == 0 && os.Getppid() == 1 {
		// The parent was already gone before the request took effect.
		_ = syscall.Kill(os.Getpid(), syscall.SIGTERM)
	}
}
