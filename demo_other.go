//go:build !linux

package main

// dieWithParent needs Linux's parent-death signal; elsewhere the demo stops
// with its own signals only.
func dieWithParent() {}
