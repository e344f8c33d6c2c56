package cdb

import (
	"encoding/json"
	"fmt"
	"os"
	"time"
)

// Schema identifiers (Mesh Configuration Database Profile 1.0.x).
const (
	JSONSchema  = "http://json-schema.org/draft-04/schema#"
	SchemaID100 = "http://www.bluetooth.com/specifications/assigned-numbers/mesh-profile/cdb-schema.json#"
	SchemaID101 = "https://www.bluetooth.com/specifications/specs/mesh-cdb-1-0-1-schema.json#"
	Version100  = "1.0.0"
	Version101  = "1.0.1"
)

// Database is a Mesh Configuration Database: the JSON network file that
// provisioners export (nRF Mesh) or keep (bluez mesh-cfgclient). Parse
// accepts the variants docs/cdb.md lists; Marshal writes CDB 1.0.1 as nRF
// Mesh does. The standard format carries no IV Index or sequence numbers:
// IVIndex is the bluez extension, written only when non-zero.
type Database struct {
	Schema            string        `json:"$schema"`
	ID                string        `json:"id"`
	Version           string        `json:"version"`
	MeshUUID          UUID          `json:"meshUUID"`
	MeshName          string        `json:"meshName"`
	Timestamp         Time          `json:"timestamp,omitzero"`
	Partial           bool          `json:"partial"`
	NetKeys           []NetKey      `json:"netKeys"`
	AppKeys           []AppKey      `json:"appKeys"`
	Provisioners      []Provisioner `json:"provisioners"`
	Nodes             []*Node       `json:"nodes"`
	Groups            []Group       `json:"groups"`
	Scenes            []Scene       `json:"scenes"`
	NetworkExclusions []Exclusion   `json:"networkExclusions,omitempty"`
	// IVIndex is bluez's top-level "ivIndex" (not in the standard schema).
	IVIndex uint32 `json:"ivIndex,omitempty"`
	// Token is bluez's mesh-cfgclient "token" (16 hex digits), kept as read.
	Token string `json:"token,omitempty"`
}

// NetKey is an entry of netKeys.
type NetKey struct {
	Name  string `json:"name"`
	Index uint16 `json:"index"`
	// Key is nil when the file does not carry it (bluez store).
	Key         *Key     `json:"key,omitempty"`
	OldKey      *Key     `json:"oldKey,omitempty"`
	Phase       int      `json:"phase"`
	MinSecurity Security `json:"minSecurity,omitempty"`
	Timestamp   Time     `json:"timestamp,omitzero"`
}

// AppKey is an entry of appKeys.
type AppKey struct {
	Name        string `json:"name"`
	Index       uint16 `json:"index"`
	BoundNetKey uint16 `json:"boundNetKey"`
	Key         *Key   `json:"key,omitempty"`
	OldKey      *Key   `json:"oldKey,omitempty"`
}

// Security is a node's or NetKey's security level: "secure" or
// "insecure" (older Nordic drafts wrote "high" and "low").
type Security string

// Security levels.
const (
	SecuritySecure   Security = "secure"
	SecurityInsecure Security = "insecure"
)

// UnmarshalText maps "high"/"low" to secure/insecure.
func (s *Security) UnmarshalText(b []byte) error {
	switch string(b) {
	case "secure", "high":
		*s = SecuritySecure
	case "insecure", "low":
		*s = SecurityInsecure
	default:
		return fmt.Errorf("%w: security %q: want secure or insecure", ErrSyntax, b)
	}
	return nil
}

// Provisioner is an entry of provisioners.
type Provisioner struct {
	Name                  string       `json:"provisionerName"`
	UUID                  UUID         `json:"UUID"`
	AllocatedUnicastRange []Range      `json:"allocatedUnicastRange"`
	AllocatedGroupRange   []Range      `json:"allocatedGroupRange"`
	AllocatedSceneRange   []SceneRange `json:"allocatedSceneRange"`
}

// Range is an allocated address range, both ends included.
type Range struct {
	LowAddress  Address `json:"lowAddress"`
	HighAddress Address `json:"highAddress"`
}

// SceneRange is an allocated scene range, both ends included.
type SceneRange struct {
	FirstScene Hex16 `json:"firstScene"`
	LastScene  Hex16 `json:"lastScene"`
}

// Group is an entry of groups.
type Group struct {
	Name          string  `json:"name"`
	Address       Target  `json:"address"`
	ParentAddress *Target `json:"parentAddress,omitempty"`
}

// Scene is an entry of scenes.
type Scene struct {
	Name      string    `json:"name"`
	Addresses []Address `json:"addresses"`
	Number    Hex16     `json:"number"`
}

// Exclusion lists unicast addresses that may not be reused until the IV
// Index passes IVIndex (networkExclusions; bluez's blacklistedAddresses).
type Exclusion struct {
	IVIndex   uint32    `json:"ivIndex"`
	Addresses []Address `json:"addresses"`
}

// UnmarshalJSON decodes a CDB file of any accepted variant.
func (d *Database) UnmarshalJSON(b []byte) error {
	type plain Database
	var raw struct {
		plain
		AltUUID     *UUID       `json:"uuid"`
		AltName     string      `json:"name"`
		Blacklisted []Exclusion `json:"blacklistedAddresses"`
		Low         *Address    `json:"low"`
		High        *Address    `json:"high"`
	}
	if err := json.Unmarshal(b, &raw); err != nil {
		return err
	}
	*d = Database(raw.plain)
	if raw.AltUUID != nil && d.MeshUUID == (UUID{}) {
		d.MeshUUID = *raw.AltUUID
	}
	if d.MeshName == "" {
		d.MeshName = raw.AltName
	}
	if len(d.NetworkExclusions) == 0 {
		d.NetworkExclusions = raw.Blacklisted
	}
	if len(d.Provisioners) == 0 && raw.Low != nil && raw.High != nil {
		d.Provisioners = []Provisioner{{
			Name:                  "mesh-cfgclient",
			AllocatedUnicastRange: []Range{{LowAddress: *raw.Low, HighAddress: *raw.High}},
		}}
	}
	return nil
}

// Parse decodes and validates a CDB file.
func Parse(b []byte) (*Database, error) {
	var d Database
	if err := json.Unmarshal(b, &d); err != nil {
		if _, ok := err.(*json.SyntaxError); ok {
			return nil, fmt.Errorf("%w: %v", ErrSyntax, err)
		}
		if _, ok := err.(*json.UnmarshalTypeError); ok {
			return nil, fmt.Errorf("%w: %v", ErrSyntax, err)
		}
		return nil, fmt.Errorf("cdb: %w", err)
	}
	if err := d.Validate(); err != nil {
		return nil, err
	}
	return &d, nil
}

// Load reads and parses the CDB file at path.
func Load(path string) (*Database, error) {
	b, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("cdb: %w", err)
	}
	d, err := Parse(b)
	if err != nil {
		return nil, fmt.Errorf("%w (file %s)", err, path)
	}
	return d, nil
}

// Marshal writes the database as nRF Mesh does: CDB 1.0.1 schema
// identifiers, upper-case hex, dashed UUIDs, two-space indentation. Empty
// lists are written as [] (the schema requires them).
func (d *Database) Marshal() ([]byte, error) {
	out := *d
	out.Schema, out.ID, out.Version = JSONSchema, SchemaID101, Version101
	if out.NetKeys == nil {
		out.NetKeys = []NetKey{}
	}
	if out.AppKeys == nil {
		out.AppKeys = []AppKey{}
	}
	if out.Provisioners == nil {
		out.Provisioners = []Provisioner{}
	}
	if out.Nodes == nil {
		out.Nodes = []*Node{}
	}
	if out.Groups == nil {
		out.Groups = []Group{}
	}
	if out.Scenes == nil {
		out.Scenes = []Scene{}
	}
	type plain Database // no UnmarshalJSON/MarshalJSON recursion
	b, err := json.MarshalIndent((*plain)(&out), "", "  ")
	if err != nil {
		return nil, fmt.Errorf("cdb: marshal: %w", err)
	}
	return append(b, '\n'), nil
}

// Touch sets the database timestamp (callers pass their clock's time).
func (d *Database) Touch(now time.Time) { d.Timestamp = Time{now.UTC().Truncate(time.Second)} }
