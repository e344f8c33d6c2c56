// Package crypto implements the Bluetooth Mesh security toolbox (Mesh
// Protocol v1.1 §3.9): AES-CMAC (RFC 4493), AES-CCM (RFC 3610) with 13-octet
// nonces and 32- or 64-bit MICs, the s1 salt function, the key derivation
// functions k1–k4, the network, application, device and proxy nonces, and the
// virtual-address hash of a Label UUID.
//
// CMAC and CCM values keep their expanded AES key and scratch space, so that
// steady-state use allocates nothing; they are not safe for concurrent use,
// which the execution contract never asks of them.
package crypto
