package daemon

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"time"
)

// Listen binds addr (TCP), naming what it is for in the error.
func Listen(addr, what string) (net.Listener, error) {
	ln, err := net.Listen("tcp", addr)
	if err != nil {
		var op *net.OpError
		if errors.As(err, &op) && op.Err != nil {
			err = op.Err
		}
		return nil, fmt.Errorf("%s: listen on %s: %w", what, addr, err)
	}
	return ln, nil
}

// dialable is a's host:port with an unspecified IP (listening on every
// interface) replaced by loopback, for URLs printed to local users.
func dialable(a net.Addr) string {
	ta, ok := a.(*net.TCPAddr)
	if !ok || !ta.IP.IsUnspecified() {
		return a.String()
	}
	return net.JoinHostPort("127.0.0.1", fmt.Sprint(ta.Port)) // Go listens dual-stack
}

func isUnspecified(a net.Addr) bool {
	ta, ok := a.(*net.TCPAddr)
	return ok && ta.IP.IsUnspecified()
}

// servers runs http.Servers until ctx ends or one fails, then shuts them
// all down within the grace period.
type servers struct {
	list []served
}

type served struct {
	name string
	srv  *http.Server
	ln   net.Listener
}

func (s *servers) add(name string, srv *http.Server, ln net.Listener) {
	s.list = append(s.list, served{name, srv, ln})
}

// run serves every server until ctx ends (nil) or one stops on its own
// (its error), and returns once all of them are shut down: gracefully
// within grace, or at once (every connection closed) if grace < 0. ready,
// if not nil, is called once every server is started.
func (s *servers) run(ctx context.Context, log *slog.Logger, grace time.Duration, ready func()) error {
	errc := make(chan error, len(s.list))
	for _, sv := range s.list {
		go func() {
			err := sv.srv.Serve(sv.ln)
			if errors.Is(err, http.ErrServerClosed) {
				err = nil
			}
			if err != nil {
				err = fmt.Errorf("%s server: %w", sv.name, err)
			}
			errc <- err
		}()
	}
	if ready != nil {
		ready()
	}
	var first error
	pending := len(s.list)
	select {
	case <-ctx.Done():
	case first = <-errc:
		pending--
		if first == nil {
			first = errors.New("a server stopped unexpectedly")
		}
	}
	log.Info("shutting down")
	sctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), max(grace, 0))
	defer cancel()
	for _, sv := range s.list {
		if grace < 0 {
			_ = sv.srv.Close()
			continue
		}
		if err := sv.srv.Shutdown(sctx); err != nil {
			log.Warn("server shutdown", "server", sv.name, "err", err)
			_ = sv.srv.Close()
		}
	}
	for range pending {
		if err := <-errc; err != nil && first == nil {
			first = err
		}
	}
	return first
}
