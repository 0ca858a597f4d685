package localcp

import (
	"errors"
	"fmt"
	"math/rand/v2"
	"net"
	"os"
	"strconv"
	"strings"
)

// Ports for the components are chosen below the kernel's range of local
// ports for outgoing connections (net.ipv4.ip_local_port_range). A port
// taken from that range and released ("listen on :0, close") may be given
// to any outgoing connection — the apiserver's to etcd open by the dozen
// while a control plane starts — before the component that was meant to
// bind it does; kube-controller-manager, bound seconds after its port is
// chosen, met exactly that on a busy machine. Below the range only another
// listener can take a port, and a random choice among some ten thousand
// makes that rare.
const (
	// lowestPort is the first port chosen from: above the defaults of the
	// tools tests run next to a control plane (Pebble's 14000 and 15000,
	// Vault's 8200, DNS servers' 5300s).
	lowestPort = 20000
	// minPorts is the fewest ports worth choosing from below the range;
	// with fewer, the kernel chooses.
	minPorts      = 1000
	portRangeFile = "/proc/sys/net/ipv4/ip_local_port_range"
)

// FreePort returns a TCP port on 127.0.0.1 that was free a moment ago,
// outside the range outgoing connections take their ports from.
func FreePort() (int, error) {
	ports, err := freePorts(1)
	if err != nil {
		return 0, err
	}
	return ports[0], nil
}

// freePorts returns n distinct free ports, holding each until all are
// chosen so that none is handed out twice.
func freePorts(n int) ([]int, error) {
	data, _ := os.ReadFile(portRangeFile)
	lo, hi := choiceRange(string(data))
	ports := make([]int, 0, n)
	var held []net.Listener
	defer func() {
		for _, l := range held {
			_ = l.Close()
		}
	}()
	hold := func(addr string) error {
		l, err := net.Listen("tcp", addr)
		if err != nil {
			return err
		}
		held = append(held, l)
		ports = append(ports, l.Addr().(*net.TCPAddr).Port)
		return nil
	}
	for tries := 0; hi > lo && len(ports) < n && tries < 100*n; tries++ {
		_ = hold(net.JoinHostPort("127.0.0.1", strconv.Itoa(lo+rand.IntN(hi-lo)))) // taken: try another
	}
	for len(ports) < n {
		if err := hold("127.0.0.1:0"); err != nil {
			return nil, fmt.Errorf("finding a free port: %w", err)
		}
	}
	return ports, nil
}

// choiceRange is the half-open range [lo, hi) ports are chosen from, given
// the contents of ip_local_port_range ("32768\t60999\n"): from lowestPort to
// the start of the kernel's range. It is empty (lo == hi) when the file
// cannot be read or leaves fewer than minPorts below it; the kernel then
// chooses.
func choiceRange(portRange string) (lo, hi int) {
	fields := strings.Fields(portRange)
	if len(fields) != 2 {
		return 0, 0
	}
	first, err := strconv.Atoi(fields[0])
	if err != nil || first-lowestPort < minPorts || first > 65536 {
		return 0, 0
	}
	return lowestPort, first
}

func checkPortFree(port int) error {
	l, err := net.Listen("tcp", net.JoinHostPort("127.0.0.1", strconv.Itoa(port)))
	if err != nil {
		var errno *net.OpError
		if errors.As(err, &errno) {
			return errno.Err
		}
		return err
	}
	return l.Close()
}
