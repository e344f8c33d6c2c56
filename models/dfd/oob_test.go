package dfd

import (
	"io"

	"github.com/meshdfu/meshdfu/fw/https"
)

// nopOOB never answers.
type nopOOB struct{}

func (nopOOB) Check(string, []byte, func(https.CheckResult, error)) func() { return func() {} }
func (nopOOB) Retrieve(string, []byte, https.CheckResult, int64, func(https.Firmware) (io.Writer, error), func(https.Firmware, error)) func() {
	return func() {}
}

// recOOB records the URIs it is asked to check and never answers.
type recOOB struct{ uris *[]string }

func (r recOOB) Check(uri string, _ []byte, _ func(https.CheckResult, error)) func() {
	*r.uris = append(*r.uris, uri)
	return func() {}
}

func (recOOB) Retrieve(string, []byte, https.CheckResult, int64, func(https.Firmware) (io.Writer, error), func(https.Firmware, error)) func() {
	return func() {}
}
