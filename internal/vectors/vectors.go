// Package vectors loads the published mesh sample data (Mesh Protocol v1.1
// chapter 8, as transcribed in shared/vectors/crypto.json) for tests. Hex
// fields stay strings; Hex and the typed helpers decode them.
package vectors

import (
	_ "embed"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"strconv"
)

//go:embed crypto.json
var cryptoJSON []byte

// Raw returns the embedded crypto.json as published.
func Raw() []byte { return cryptoJSON }

// File is crypto.json.
type File struct {
	Format                     string                `json:"format"`
	S1                         []S1                  `json:"s1"`
	K1                         []K1                  `json:"k1"`
	K2                         []K2                  `json:"k2"`
	K3                         []K3                  `json:"k3"`
	K4                         []K4                  `json:"k4"`
	NetworkPDUs                []NetworkPDU          `json:"network_pdus"`
	VirtualAddresses           []VirtualAddress      `json:"virtual_addresses"`
	SecureNetworkBeacons       []SecureBeacon        `json:"secure_network_beacons"`
	PrivateBeacons             []PrivateBeacon       `json:"private_beacons"`
	UnprovisionedDeviceBeacons []UnprovisionedBeacon `json:"unprovisioned_device_beacons"`
	ProxyServiceData           []ProxyServiceData    `json:"proxy_service_data"`
}

// S1 is an s1 sample.
type S1 struct {
	ID     string `json:"id"`
	M      string `json:"m"`
	Output string `json:"output"`
}

// K1 is a k1 sample.
type K1 struct {
	ID     string `json:"id"`
	N      string `json:"n"`
	Salt   string `json:"salt"`
	P      string `json:"p"`
	T      string `json:"t"`
	Output string `json:"output"`
}

// Friendship holds the four friendship-credential inputs.
type Friendship struct {
	LPNAddress    string `json:"lpn_address"`
	FriendAddress string `json:"friend_address"`
	LPNCounter    string `json:"lpn_counter"`
	FriendCounter string `json:"friend_counter"`
}

// K2 is a k2 sample.
type K2 struct {
	ID            string      `json:"id"`
	Credentials   string      `json:"credentials"`
	N             string      `json:"n"`
	P             string      `json:"p"`
	Friendship    *Friendship `json:"friendship"`
	NID           string      `json:"nid"`
	EncryptionKey string      `json:"encryption_key"`
	PrivacyKey    string      `json:"privacy_key"`
}

// K3 is a k3 sample.
type K3 struct {
	ID        string `json:"id"`
	N         string `json:"n"`
	NetworkID string `json:"network_id"`
}

// K4 is a k4 sample.
type K4 struct {
	ID  string `json:"id"`
	N   string `json:"n"`
	AID string `json:"aid"`
}

// Control is the transport control part of a network PDU sample.
type Control struct {
	Opcode        string `json:"opcode"`
	Name          string `json:"opcode_name"`
	Parameters    string `json:"parameters"`
	OBO           *int   `json:"obo"`
	SeqZero       string `json:"seq_zero"`
	AckedSegments string `json:"acked_segments"`
}

// Access is the access/upper transport part of a network PDU sample.
type Access struct {
	KeyType           string   `json:"key_type"`
	AKF               int      `json:"akf"`
	AID               string   `json:"aid"`
	SZMIC             int      `json:"szmic"`
	Opcode            string   `json:"opcode"`
	AccessMessage     string   `json:"access_message"`
	Nonce             string   `json:"nonce"`
	EncAccessMessage  string   `json:"enc_access_message"`
	TransMIC          string   `json:"trans_mic"`
	UpperTransportPDU string   `json:"upper_transport_pdu"`
	Segments          []string `json:"segments"`
}

// Segment is the segmentation header of one PDU.
type Segment struct {
	SZMIC   int    `json:"szmic"`
	SeqZero string `json:"seq_zero"`
	SegO    int    `json:"seg_o"`
	SegN    int    `json:"seg_n"`
	Header  string `json:"header"`
}

// PDU is one network PDU of a sample message.
type PDU struct {
	SEQ                string   `json:"seq"`
	CTL                int      `json:"ctl"`
	TTL                int      `json:"ttl"`
	LowerTransportPDU  string   `json:"lower_transport_pdu"`
	Segment            *Segment `json:"segment"`
	NetworkNonce       string   `json:"network_nonce"`
	EncDstTransportPDU string   `json:"enc_dst_transport_pdu"`
	NetMIC             string   `json:"net_mic"`
	PrivacyPlaintext   string   `json:"privacy_plaintext"`
	PECB               string   `json:"pecb"`
	CtlTTLSeqSrc       string   `json:"ctl_ttl_seq_src"`
	NetworkPDU         string   `json:"network_pdu"`
}

// NetworkPDU is one sample message (Mesh Protocol v1.1 §8.3.x).
type NetworkPDU struct {
	ID            string      `json:"id"`
	Name          string      `json:"name"`
	Kind          string      `json:"kind"`
	IVIndex       string      `json:"iv_index"`
	IVI           int         `json:"ivi"`
	NetKey        string      `json:"net_key"`
	AppKey        string      `json:"app_key"`
	DevKey        string      `json:"dev_key"`
	Credentials   string      `json:"credentials"`
	Friendship    *Friendship `json:"friendship"`
	NID           string      `json:"nid"`
	EncryptionKey string      `json:"encryption_key"`
	PrivacyKey    string      `json:"privacy_key"`
	SRC           string      `json:"src"`
	DST           string      `json:"dst"`
	LabelUUID     string      `json:"label_uuid"`
	Control       *Control    `json:"control"`
	Access        *Access     `json:"access"`
	PDUs          []PDU       `json:"pdus"`
}

// VirtualAddress is a Label UUID and its virtual address.
type VirtualAddress struct {
	ID             string `json:"id"`
	LabelUUID      string `json:"label_uuid"`
	VirtualAddress string `json:"virtual_address"`
}

// SecureBeacon is a Secure Network beacon sample.
type SecureBeacon struct {
	ID                  string `json:"id"`
	NetKey              string `json:"net_key"`
	IVIndex             string `json:"iv_index"`
	KeyRefresh          int    `json:"key_refresh"`
	IVUpdate            int    `json:"iv_update"`
	Flags               string `json:"flags"`
	NetworkID           string `json:"network_id"`
	BeaconKey           string `json:"beacon_key"`
	AuthInput           string `json:"auth_input"`
	CMAC                string `json:"cmac"`
	AuthenticationValue string `json:"authentication_value"`
	Beacon              string `json:"beacon"`
}

// PrivateBeacon is a Mesh Private beacon sample.
type PrivateBeacon struct {
	ID                          string `json:"id"`
	NetKey                      string `json:"net_key"`
	PrivateBeaconKey            string `json:"private_beacon_key"`
	Random                      string `json:"random"`
	KeyRefresh                  int    `json:"key_refresh"`
	IVUpdate                    int    `json:"iv_update"`
	IVIndex                     string `json:"iv_index"`
	Flags                       string `json:"flags"`
	PrivateBeaconData           string `json:"private_beacon_data"`
	ObfuscatedPrivateBeaconData string `json:"obfuscated_private_beacon_data"`
	AuthenticationTag           string `json:"authentication_tag"`
	Payload                     string `json:"payload"`
	ADStructure                 string `json:"ad_structure"`
}

// UnprovisionedBeacon is an Unprovisioned Device beacon sample.
type UnprovisionedBeacon struct {
	ID             string `json:"id"`
	DeviceUUID     string `json:"device_uuid"`
	OOBInformation string `json:"oob_information"`
	URI            string `json:"uri"`
	URIData        string `json:"uri_data"`
	URIHashS1      string `json:"uri_hash_s1"`
	Beacon         string `json:"beacon"`
}

// ProxyServiceData is a Mesh Proxy Service advertising sample.
type ProxyServiceData struct {
	ID          string `json:"id"`
	Type        string `json:"type"`
	NetKey      string `json:"net_key"`
	NetworkID   string `json:"network_id"`
	IdentityKey string `json:"identity_key"`
	Address     string `json:"address"`
	Random      string `json:"random"`
	EPlaintext  string `json:"e_plaintext"`
	EOutput     string `json:"e_output"`
	Hash        string `json:"hash"`
	ADStructure string `json:"ad_structure"`
}

// Load decodes the embedded crypto.json.
func Load() (*File, error) {
	var f File
	if err := json.Unmarshal(cryptoJSON, &f); err != nil {
		return nil, fmt.Errorf("vectors: %w", err)
	}
	return &f, nil
}

// MustLoad is Load for tests; it panics on a malformed embedded file.
func MustLoad() *File {
	f, err := Load()
	if err != nil {
		panic(err)
	}
	return f
}

// Hex decodes s, panicking on bad hex (the embedded data is fixed).
func Hex(s string) []byte {
	b, err := hex.DecodeString(s)
	if err != nil {
		panic(fmt.Sprintf("vectors: bad hex %q: %v", s, err))
	}
	return b
}

// Key decodes a 16-octet key.
// KeyT is a 16-octet key.
type KeyT = [16]byte

func Key(s string) (k KeyT) {
	b := Hex(s)
	if len(b) != 16 {
		panic(fmt.Sprintf("vectors: key %q is %d octets", s, len(b)))
	}
	copy(k[:], b)
	return k
}

// Uint parses a hex number such as an address, SEQ or IV Index.
func Uint(s string) uint32 {
	v, err := strconv.ParseUint(s, 16, 32)
	if err != nil {
		panic(fmt.Sprintf("vectors: bad hex number %q", s))
	}
	return uint32(v)
}
