package peers

import (
	"net"
	"net/netip"
	"net/url"
	"strings"
)

// AddressBlock returns the address block of a peer's address (a base URL,
// or host:port): the /24 of an IPv4 address, the /64 of an IPv6 one, else
// the lower-case host name. Peers in one block are assumed to be under one
// operator's control.
func AddressBlock(addr string) string {
	host := addr
	if u, err := url.Parse(addr); err == nil && u.Host != "" {
		host = u.Hostname()
	} else if h, _, err := net.SplitHostPort(addr); err == nil {
		host = h
	}
	ip, err := netip.ParseAddr(strings.Trim(host, "[]"))
	if err != nil {
		return strings.ToLower(host)
	}
	ip = ip.Unmap().WithZone("")
	bits := 64
	if ip.Is4() {
		bits = 24
	}
	p, err := ip.Prefix(bits)
	if err != nil {
		return ip.String()
	}
	return p.String()
}

// dialable reports whether addr is a base URL a challenge can reach: http
// or https with a host.
func dialable(addr string) bool {
	u, err := url.Parse(addr)
	return err == nil && (u.Scheme == "http" || u.Scheme == "https") && u.Hostname() != ""
}
