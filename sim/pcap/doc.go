// Package pcap writes captures of simulated (or real) mesh advertising
// traffic that Wireshark and tshark dissect: classic libpcap files with
// link type LINKTYPE_BLUETOOTH_LE_LL_WITH_PHDR (256).
//
// Each record is the 10-octet pseudo-header of that link type followed by a
// Bluetooth LE Link Layer advertising packet (Core v5.4 Vol 6 Part B §2.1,
// §2.3): access address 0x8E89BED6, a 2-octet PDU header of type
// ADV_NONCONN_IND with a random TxAdd, AdvA (6 octets derived from the node
// ID), AdvData holding one AD structure (length, AD type 0x2A «Mesh Message»
// or 0x2B «Mesh Beacon», the mesh PDU), and the real CRC-24 (polynomial
// 0x00065B, initial value 0x555555), so Wireshark shows the CRC as valid and
// hands the AD structure to its Bluetooth Mesh dissector.
//
// ParseLL decodes such a packet back (for tests and tools); it is fuzzed.
// A Writer is not safe for concurrent use.
package pcap
