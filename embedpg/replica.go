package embedpg

import (
	"context"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
)

// StartStandby makes a streaming replica of c (pg_basebackup -R over the
// replication protocol, which initdb's trust rules allow on loopback) and
// starts it as its own cluster on a free port, in hot standby.
func (c *Cluster) StartStandby(ctx context.Context) (*Cluster, error) {
	port, err := FreePort()
	if err != nil {
		return nil, err
	}
	dir, err := os.MkdirTemp("", "pgrest-standby-")
	if err != nil {
		return nil, err
	}
	s := &Cluster{Dir: dir, Port: port, binDir: c.binDir, asUser: c.asUser}
	if s.asUser != "" {
		if out, cerr := exec.Command("chown", s.asUser+":", dir).CombinedOutput(); cerr != nil {
			s.Remove()
			return nil, fmt.Errorf("chown %s: %v: %s", dir, cerr, out)
		}
	}
	data := filepath.Join(dir, "data")
	out, err := s.run(ctx, "pg_basebackup", "-h", "127.0.0.1", "-p", fmt.Sprint(c.Port), "-U", "postgres",
		"-D", data, "-R", "-X", "stream", "-c", "fast", "--no-sync")
	if err != nil {
		s.Remove()
		return nil, fmt.Errorf("pg_basebackup: %v: %s", err, out)
	}
	opts, err := os.ReadFile(filepath.Join(c.Dir, "opts"))
	if err != nil {
		s.Remove()
		return nil, err
	}
	// Same settings as the primary (a hot standby needs max_connections and
	// the like at least as large), on its own port and socket directory.
	o := strings.Replace(string(opts), fmt.Sprintf("-p %d -k %s", c.Port, c.Dir), fmt.Sprintf("-p %d -k %s", port, dir), 1)
	if err = s.writeOpts(o + " -c hot_standby=on"); err != nil {
		s.Remove()
		return nil, err
	}
	if err = s.StartServer(ctx); err != nil {
		s.Remove()
		return nil, err
	}
	return s, nil
}

// Kill stops the server at once (immediate mode), as a crash would.
func (c *Cluster) Kill(ctx context.Context) error {
	out, err := c.run(ctx, "pg_ctl", "-D", filepath.Join(c.Dir, "data"), "-m", "immediate", "-w", "stop")
	if err != nil {
		return fmt.Errorf("pg_ctl stop: %v: %s", err, out)
	}
	c.started = false
	return nil
}
