package main

import (
	"fmt"
	"io"
	"sort"
	"strings"
)

// A test binary that hits -timeout prints "panic: test timed out", the
// tests still running and then every goroutine's stack: thousands of
// lines, of which a CI log may keep only the last few. The filter keeps
// that dump per package, and the closing summary ends with a digest of it
// (which tests ran, and where the project's own goroutines were waiting,
// each place once with a count), so the cause of a hang is in the last
// lines of the log.

// modulePath marks the project's frames in a stack.
const modulePath = "github.com/vetca/vetca/"

// maxDumpLines bounds what is kept of one package's dump.
const maxDumpLines = 200_000

// Hang is one package that timed out: what it printed from the panic on.
type Hang struct {
	Package string
	Lines   []string
}

// hangs collects timeout dumps by package.
type hangs struct {
	order []string
	dumps map[string]*Hang
}

// see offers one line of output of pkg to the collector.
func (h *hangs) see(pkg, line string) {
	d := h.dumps[pkg]
	if d == nil {
		if !strings.HasPrefix(line, "panic: test timed out") {
			return
		}
		if h.dumps == nil {
			h.dumps = map[string]*Hang{}
		}
		d = &Hang{Package: pkg}
		h.dumps[pkg] = d
		h.order = append(h.order, pkg)
	}
	if len(d.Lines) < maxDumpLines {
		d.Lines = append(d.Lines, strings.TrimRight(line, "\n"))
	}
}

// list returns the dumps in the order their packages timed out.
func (h *hangs) list() []Hang {
	out := make([]Hang, 0, len(h.order))
	for _, p := range h.order {
		out = append(out, *h.dumps[p])
	}
	return out
}

// Digest is what a timeout dump comes to: the tests still running, and
// for each place in the project's code where goroutines were, how many.
type Digest struct {
	Running []string
	Places  []Place
}

// Place is one goroutine state at one project frame, with its count.
type Place struct {
	State, Func, Where string
	Count              int
}

// Digest reads h's dump.
func (h Hang) Digest() Digest {
	var d Digest
	counts := map[Place]int{}
	for i := 0; i < len(h.Lines); i++ {
		l := h.Lines[i]
		switch {
		case strings.HasPrefix(strings.TrimSpace(l), "running tests:"):
			// A tab before each line under go test -json.
			for i+1 < len(h.Lines) && strings.HasPrefix(h.Lines[i+1], "\t") && strings.TrimSpace(h.Lines[i+1]) != "" {
				i++
				d.Running = append(d.Running, strings.TrimSpace(h.Lines[i]))
			}
		case strings.HasPrefix(l, "goroutine ") && strings.HasSuffix(l, ":"):
			var p Place
			p, i = goroutinePlace(h.Lines, i)
			if p.Func != "" {
				counts[p]++
			}
		}
	}
	for p, n := range counts {
		p.Count = n
		d.Places = append(d.Places, p)
	}
	sort.Slice(d.Places, func(i, j int) bool {
		a, b := d.Places[i], d.Places[j]
		if a.Count != b.Count {
			return a.Count > b.Count
		}
		return a.Func+a.Where < b.Func+b.Where
	})
	return d
}

// goroutinePlace reads the goroutine whose header is lines[i]: its state
// (without how long it has been in it) and where it was: its two innermost
// project frames, or its innermost frame when none is the project's. It
// returns the index of the block's last line.
func goroutinePlace(lines []string, i int) (Place, int) {
	hdr := lines[i]
	var p Place
	if a, b := strings.Index(hdr, "["), strings.LastIndex(hdr, "]"); a >= 0 && b > a {
		p.State, _, _ = strings.Cut(hdr[a+1:b], ",")
	}
	var own []string
	first := ""
	for i+1 < len(lines) && lines[i+1] != "" {
		i++
		fn := lines[i]
		if strings.HasPrefix(fn, "\t") || strings.HasPrefix(fn, "created by ") {
			continue
		}
		name := funcName(fn)
		if first == "" {
			first = name
			if i+1 < len(lines) {
				p.Where = fileLine(lines[i+1])
			}
		}
		if strings.HasPrefix(fn, modulePath) && len(own) < 2 {
			if len(own) == 0 && i+1 < len(lines) {
				p.Where = fileLine(lines[i+1])
			}
			own = append(own, strings.TrimPrefix(name, modulePath))
		}
	}
	p.Func = first
	if len(own) > 0 {
		p.Func = strings.Join(own, " <- ")
	}
	return p, i
}

// funcName is a stack frame's function without its arguments.
func funcName(frame string) string {
	if k := strings.LastIndex(frame, "("); k > 0 && strings.HasSuffix(frame, ")") {
		return frame[:k]
	}
	return frame
}

// fileLine is a stack frame's file:line, shortened to its directory and
// file name.
func fileLine(l string) string {
	file, _, _ := strings.Cut(strings.TrimSpace(l), " +0x")
	parts := strings.Split(file, "/")
	if len(parts) > 2 {
		parts = parts[len(parts)-2:]
	}
	return strings.Join(parts, "/")
}

// maxPlaces bounds the places printed per package.
const maxPlaces = 15

// reportHangs prints the digest of each timed-out package.
func reportHangs(w io.Writer, hs []Hang) {
	for _, h := range hs {
		d := h.Digest()
		fmt.Fprintf(w, "TIMED OUT: %s; still running: %s\n", h.Package, strings.Join(d.Running, ", "))
		if len(d.Places) == 0 {
			fmt.Fprintln(w, "  no goroutine was in the project's code")
		}
		for i, p := range d.Places {
			if i == maxPlaces {
				fmt.Fprintf(w, "  ... %d more places\n", len(d.Places)-maxPlaces)
				break
			}
			fmt.Fprintf(w, "  %3d × [%s] %s (%s)\n", p.Count, p.State, p.Func, p.Where)
		}
	}
}
