package fw

import (
	"bufio"
	"bytes"
	"encoding/binary"
	"fmt"
	"math/rand/v2"
	"os"
	"os/exec"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"
)

const (
	crashEnvDir  = "MESHDFU_FW_CRASH_DIR"
	crashSlot    = "slot"
	crashKeep    = "keep"
	crashImgSize = 2 << 20
)

// crashImage returns generation i of the crash test's image and its
// Firmware ID (which names i).
func crashImage(i uint32) (fwid, image []byte) {
	var seed [32]byte
	binary.LittleEndian.PutUint32(seed[:], i)
	image = make([]byte, crashImgSize+int(i%7)) // sizes differ between generations
	rand.NewChaCha8(seed).Read(image)
	return binary.LittleEndian.AppendUint32([]byte{0xf1, 0x05}, i), image
}

// TestHelperProcess is the child of TestDirStore_CrashSIGKILL: it rewrites
// one slot forever, alternating Put and a chunked BeginWrite/Commit, and
// prints "committed N" after each commit. It does nothing in a normal run.
func TestHelperProcess(t *testing.T) {
	dir := os.Getenv(crashEnvDir)
	if dir == "" {
		t.Skip("helper process for the crash test")
	}
	s, err := OpenStore(dir, StoreConfig{})
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(3)
	}
	info, err := s.Stat(crashSlot)
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(3)
	}
	i := binary.LittleEndian.Uint32(info.FirmwareID[2:])
	fmt.Fprintln(os.Stdout, "ready")
	for {
		i++
		fwid, img := crashImage(i)
		if i%2 == 0 {
			err = s.Put(crashSlot, fwid, nil, img)
		} else {
			err = chunkedWrite(s, fwid, img)
		}
		if err != nil {
			fmt.Fprintln(os.Stderr, err)
			os.Exit(3)
		}
		fmt.Fprintln(os.Stdout, "committed", i)
	}
}

// chunkedWrite writes img in 64 KiB chunks, back half first, as a transfer
// with retransmissions might.
func chunkedWrite(s Store, fwid, img []byte) error {
	w, err := s.BeginWrite(crashSlot, fwid, []byte("chunked"), int64(len(img)))
	if err != nil {
		return err
	}
	const chunk = 64 << 10
	half := len(img) / 2
	for _, r := range [][2]int{{half, len(img)}, {0, half}} {
		for off := r[0]; off < r[1]; off += chunk {
			if _, err := w.WriteAt(img[off:min(off+chunk, r[1])], int64(off)); err != nil {
				return err
			}
		}
	}
	return w.Commit()
}

// A process killed with SIGKILL at random points while writing a slot
// leaves, after reopening, either the old image intact or the new one
// complete: never a corrupt slot, never a half-written one served.
func TestDirStore_CrashSIGKILL(t *testing.T) {
	if testing.Short() {
		t.Skip("spawns processes")
	}
	dir := t.TempDir()
	s, err := OpenStore(dir, StoreConfig{})
	if err != nil {
		t.Fatal(err)
	}
	fwid0, img0 := crashImage(0)
	keep := pattern(5000, 42)
	if err := s.Put(crashKeep, fwidA, metaA, keep); err != nil {
		t.Fatal(err)
	}
	if err := s.Put(crashSlot, fwid0, nil, img0); err != nil {
		t.Fatal(err)
	}
	s.Close()

	const seed = 5
	rng := rand.New(rand.NewPCG(seed, 0))
	reported := uint32(0) // the highest generation a child said it committed
	for iter := range 20 {
		delay := time.Duration(rng.IntN(120_000)) * time.Microsecond
		lines := runAndKill(t, dir, delay)
		for _, l := range lines {
			if n, ok := strings.CutPrefix(l, "committed "); ok {
				v, _ := strconv.ParseUint(n, 10, 32)
				reported = max(reported, uint32(v))
			}
		}

		s, err := OpenStore(dir, StoreConfig{})
		if err != nil {
			t.Fatalf("seed %d iteration %d: reopen: %v", seed, iter, err)
		}
		for _, in := range s.List() {
			if in.Corrupt {
				t.Fatalf("seed %d iteration %d (kill after %v): slot %s corrupt", seed, iter, delay, in.Name)
			}
		}
		info, got, err := s.Get(crashSlot)
		if err != nil {
			t.Fatalf("seed %d iteration %d (kill after %v): %v", seed, iter, delay, err)
		}
		gen := binary.LittleEndian.Uint32(info.FirmwareID[2:])
		if _, want := crashImage(gen); !bytes.Equal(got, want) {
			t.Fatalf("seed %d iteration %d: slot holds Firmware ID %x with another image", seed, iter, info.FirmwareID)
		}
		// Durable once reported; at most the next one got further.
		if gen < reported || gen > reported+1 {
			t.Fatalf("seed %d iteration %d: generation %d after %d was reported committed", seed, iter, gen, reported)
		}
		reported = gen
		mustGet(t, s, crashKeep, fwidA, keep)
		if s.Used() != int64(len(keep)+len(got)) {
			t.Fatalf("used %d", s.Used())
		}
		assertClean(t, dir, 2)
		t.Logf("iteration %d: killed after %v, slot at generation %d", iter, delay, gen)
		s.Close()
	}
}

// runAndKill starts the helper on dir, waits until it has opened the store,
// lets it run for delay (wall-clock time: the point is to land the SIGKILL
// anywhere inside the writes), kills it and returns what it printed.
func runAndKill(t *testing.T, dir string, delay time.Duration) []string {
	t.Helper()
	cmd := exec.Command(os.Args[0], "-test.run=^TestHelperProcess$")
	cmd.Env = append(os.Environ(), crashEnvDir+"="+dir)
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	out, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	sc := bufio.NewScanner(out)
	if !sc.Scan() || sc.Text() != "ready" {
		cmd.Process.Kill()
		cmd.Wait()
		t.Fatalf("helper did not start: %q %s", sc.Text(), stderr.String())
	}
	time.Sleep(delay)
	if err := cmd.Process.Signal(syscall.SIGKILL); err != nil {
		t.Fatal(err)
	}
	var lines []string
	for sc.Scan() {
		lines = append(lines, sc.Text())
	}
	err = cmd.Wait()
	if ws, ok := cmd.ProcessState.Sys().(syscall.WaitStatus); !ok || !ws.Signaled() {
		t.Fatalf("helper ended by itself: %v %s", err, stderr.String())
	}
	return lines
}
