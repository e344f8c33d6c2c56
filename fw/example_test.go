package fw_test

import (
	"bytes"
	"errors"
	"fmt"

	"github.com/meshdfu/meshdfu/fw"
)

// Sign metadata for an image, send it, and verify the image on a target.
func Example() {
	pub, priv, _ := fw.GenerateKey(bytes.NewReader(make([]byte, 32))) // crypto/rand.Reader in production
	image := bytes.Repeat([]byte("new firmware "), 100)
	fwid := []byte{0xf1, 0x05, 0x02, 0x00} // Company ID 0x05F1, version 2.0

	meta, _ := fw.NewMetadata("2.0.0", image, fw.FlagCompositionChange)
	_ = meta.Sign(priv, fwid)
	wire, _ := meta.Marshal() // Incoming Firmware Metadata, ≤ 255 octets
	fmt.Println("metadata octets:", len(wire))

	// On the target.
	got, err := fw.ParseMetadata(wire)
	if err != nil {
		fmt.Println(err)
		return
	}
	fmt.Println("additional information:", got.AdditionalInformation())
	v := fw.NewVerifier(got, fwid, pub)
	v.Write(image[:600]) // as the chunks are stored
	v.Write(image[600:])
	fmt.Println("verify:", v.Finish())

	image[7] ^= 1
	err = fw.VerifyImage(bytes.NewReader(image), got, fwid, pub)
	fmt.Println("tampered:", errors.Is(err, fw.ErrHashMismatch))
	// Output:
	// metadata octets: 118
	// additional information: 1
	// verify: <nil>
	// tampered: true
}

// A BLOB transfer writes the image in chunks; the slot changes on Commit.
func ExampleStore_BeginWrite() {
	var s fw.Store = fw.NewMemStore(64 << 10) // fw.OpenStore(dir, …) on disk
	image := bytes.Repeat([]byte{0xA5}, 1000)
	w, _ := s.BeginWrite("incoming", []byte{0xf1, 0x05}, nil, int64(len(image)))
	w.WriteAt(image[500:], 500)
	fmt.Println("commit early:", errors.Is(w.Commit(), fw.ErrIncomplete))
	w.WriteAt(image[:500], 0)
	fmt.Println("commit:", w.Commit())
	info, _ := s.Stat("incoming")
	fmt.Println(info.Name, info.Size, s.Free())
	// Output:
	// commit early: true
	// commit: <nil>
	// incoming 1000 64536
}
