package scenario

import (
	"errors"
	"math"
	"testing"
)

// FuzzParseFlags feeds the parsers of the `meshdfu sim` flags (--loss,
// --image-size, --fault) any string: each either refuses it with ErrConfig
// or returns a value in its range, and a fault reads back from its String.
func FuzzParseFlags(f *testing.F) {
	for _, s := range []string{"0.05", "5%", "0", "99.9%", "1", "NaN", "-0", "Inf", "1e309",
		"32768", "64KiB", "1MiB", "100kB", "0.5", "1.5K", "NaNK", " 2 M ",
		"target-reboot@30%:count=2", "target-offline", "tamper:count=3", "distributor-restart@50%",
		"loss-burst@40%:for=5s", "power-cut@30%:count=2", "target-reboot@verify", "x@y:z="} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		if v, err := ParseLoss(s); err == nil {
			if !(v >= 0 && v < 1) {
				t.Fatalf("ParseLoss(%q) = %v", s, v)
			}
		} else if !errors.Is(err, ErrConfig) {
			t.Fatalf("ParseLoss(%q): %v, want ErrConfig", s, err)
		}
		if n, err := ParseSize(s); err == nil {
			if n < 1 || n > 1<<40 {
				t.Fatalf("ParseSize(%q) = %d", s, n)
			}
		} else if !errors.Is(err, ErrConfig) {
			t.Fatalf("ParseSize(%q): %v, want ErrConfig", s, err)
		}
		fl, err := ParseFault(s)
		if err != nil {
			if !errors.Is(err, ErrConfig) {
				t.Fatalf("ParseFault(%q): %v, want ErrConfig", s, err)
			}
			return
		}
		if math.IsNaN(fl.At) || fl.Count < 1 {
			t.Fatalf("ParseFault(%q) = %+v", s, fl)
		}
		again, err := ParseFault(fl.String())
		if err != nil || again != fl {
			t.Fatalf("ParseFault(%q) = %+v; its String %q reads back %+v, %v", s, fl, fl.String(), again, err)
		}
	})
}
