package cprmail

import (
	"regexp"
	"strings"

	"golang.org/x/net/html"
)

// blockTags end a line of text.
var blockTags = map[string]bool{
	"br": true, "p": true, "div": true, "tr": true, "li": true, "table": true,
	"h1": true, "h2": true, "h3": true, "h4": true, "h5": true, "h6": true,
	"blockquote": true, "pre": true, "hr": true, "ul": true, "ol": true,
}

// htmlToText extracts the readable text of an HTML body: no scripts or
// styles, a line end at each block element, <pre> kept verbatim.
func htmlToText(s string) string {
	if s == "" {
		return ""
	}
	z := html.NewTokenizer(strings.NewReader(s))
	var b strings.Builder
	skip, pre := 0, 0
	for {
		switch z.Next() {
		case html.ErrorToken:
			return tidyLines(unfoldPEM(b.String()))
		case html.TextToken:
			if skip > 0 {
				continue
			}
			t := string(z.Text())
			if pre == 0 {
				t = strings.Join(strings.Fields(t), " ")
				if t != "" {
					t += " "
				}
			}
			b.WriteString(t)
		case html.StartTagToken, html.SelfClosingTagToken:
			name, _ := z.TagName()
			skip, pre = adjust(string(name), skip, pre, 1)
			if blockTags[string(name)] {
				b.WriteByte('\n')
			}
		case html.EndTagToken:
			name, _ := z.TagName()
			skip, pre = adjust(string(name), skip, pre, -1)
			if blockTags[string(name)] {
				b.WriteByte('\n')
			}
		}
	}
}

func adjust(tag string, skip, pre, delta int) (int, int) {
	switch tag {
	case "script", "style", "head", "title":
		skip = max(skip+delta, 0)
	case "pre":
		pre = max(pre+delta, 0)
	}
	return skip, pre
}

// tidyLines trims every line's trailing space and keeps at most one blank
// line in a row.
func tidyLines(s string) string {
	var out []string
	blank := false
	for _, line := range strings.Split(s, "\n") {
		line = strings.TrimRight(line, " \t")
		if strings.TrimSpace(line) == "" {
			if !blank && len(out) > 0 {
				out = append(out, "")
			}
			blank = true
			continue
		}
		blank = false
		out = append(out, line)
	}
	return strings.TrimSpace(strings.Join(out, "\n"))
}

// foldedPEM is a PEM block whose line ends may have become spaces: HTML
// white space is folded, while the mail client shows the block on its
// lines (white-space: pre-wrap). Its headers, if any (Proc-Type and
// DEK-Info of a legacy encrypted key), have values without spaces.
var foldedPEM = regexp.MustCompile(`-----BEGIN ([A-Z0-9 ]+)-----\s+((?:[A-Za-z][A-Za-z0-9-]*: *[^\s:]+\s+)*)([A-Za-z0-9+/=]+(?:\s+[A-Za-z0-9+/=]+)*)\s+-----END ([A-Z0-9 ]+)-----`)

// foldedHeader is one header of a folded PEM block.
var foldedHeader = regexp.MustCompile(`[A-Za-z][A-Za-z0-9-]*: *[^\s:]+`)

// unfoldPEM puts every PEM block of an HTML body's text back on lines of
// its own, so that pemBlocks finds it and the desk takes it out of the
// description (a private key is never stored) instead of keeping it as
// text.
func unfoldPEM(s string) string {
	return foldedPEM.ReplaceAllStringFunc(s, func(m string) string {
		sub := foldedPEM.FindStringSubmatch(m)
		if sub[1] != sub[4] {
			return m
		}
		var b strings.Builder
		b.WriteString("\n-----BEGIN " + sub[1] + "-----\n")
		if hs := foldedHeader.FindAllString(sub[2], -1); len(hs) > 0 {
			b.WriteString(strings.Join(hs, "\n") + "\n\n")
		}
		b.WriteString(strings.Join(strings.Fields(sub[3]), "\n") + "\n-----END " + sub[4] + "-----\n")
		return b.String()
	})
}
