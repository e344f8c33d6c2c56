package main

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"strconv"
	"strings"
	"time"

	"github.com/spf13/cobra"

	"github.com/meshdfu/meshdfu/mesh"
	"github.com/meshdfu/meshdfu/mesh/access"
	"github.com/meshdfu/meshdfu/mesh/config"
	"github.com/meshdfu/meshdfu/runtime"
)

func newConfigCmd() *cobra.Command {
	var (
		f        nodeFlags
		appIndex uint16
		ttl      uint8
		timeout  time.Duration
	)
	cmd := &cobra.Command{
		Use:   "config ACTION TARGET [ARGS]",
		Short: "Configure a node over the mesh as a Configuration Client",
		Long: `config runs the provisioner's node of a network file for one request,
sends a Configuration message to TARGET secured with TARGET's device key,
prints the status it answered as JSON and exits: 0 on Success, 1 on any other
status or when no answer came within --timeout.

Actions:
  composition TARGET                    Composition Data Get (page 0)
  appkey-add TARGET                     AppKey Add of --app-index from the file
  bind TARGET ELEMENT MODEL             Model App Bind (MODEL in hex, 4 or 8 digits)
  sub-add TARGET ELEMENT MODEL GROUP    Model Subscription Add
  pub-set TARGET ELEMENT MODEL ADDRESS  Model Publication Set (--app-index, --ttl)
  default-ttl TARGET TTL                Default TTL Set
  reset TARGET                          Node Reset`,
		Example: `  meshdfu config --cdb net.json --node 0x0001 --data-dir /tmp/p \
      --bearer udp:127.0.0.1:5001 --peer 127.0.0.1:5002 appkey-add 0x0002
  meshdfu config ... bind 0x0002 0x0002 1000`,
		Args: cobra.MinimumNArgs(2),
		RunE: func(cmd *cobra.Command, args []string) error {
			req, err := configRequest(args, appIndex, ttl)
			if err != nil {
				return &exitError{code: 2, msg: err.Error()}
			}
			ctx, cancel := context.WithTimeout(cmd.Context(), timeout+5*time.Second)
			defer cancel()
			rn, err := startNode(ctx, &f, os.Stderr, true, nil)
			if err != nil {
				return &exitError{code: 1, msg: err.Error()}
			}
			defer rn.Close()
			if k, ok := req.msg.(*config.AppKeyAdd); ok {
				key, bound, err := rn.db.AppKey(k.AppKeyIndex)
				if err != nil {
					return &exitError{code: 1, msg: fmt.Sprintf("AppKey %d: %v", k.AppKeyIndex, err)}
				}
				k.AppKey, k.NetKeyIndex = key, bound
			}
			resp, err := runtime.Await(ctx, rn.loop, func(done func(access.Message, error)) {
				if err := rn.node.ConfigClient().Request(req.dst, req.msg, done); err != nil {
					done(nil, err)
				}
			})
			var se *config.StatusError
			if resp != nil {
				out, _ := json.Marshal(map[string]any{"request": fmt.Sprintf("%T", req.msg)[len("*config."):], "target": req.dst.String(), "response": describeStatus(resp)})
				fmt.Fprintln(cmd.OutOrStdout(), string(out))
			}
			switch {
			case errors.As(err, &se):
				return &exitError{code: 1, msg: se.Error()}
			case err != nil:
				return &exitError{code: 1, msg: fmt.Sprintf("%v (is the target running and in --peer range?)", err)}
			}
			return nil
		},
	}
	f.register(cmd)
	cmd.Flags().Uint16Var(&appIndex, "app-index", 0, "AppKey index for appkey-add, bind and pub-set")
	cmd.Flags().Uint8Var(&ttl, "ttl", 5, "publish TTL for pub-set")
	cmd.Flags().DurationVar(&timeout, "timeout", 10*time.Second, "how long to wait for the status")
	return cmd
}

type cfgRequest struct {
	dst mesh.Address
	msg access.Message
}

func parseModel(s string) (access.ModelID, error) {
	v, err := strconv.ParseUint(strings.TrimPrefix(s, "0x"), 16, 32)
	if err != nil {
		return 0, fmt.Errorf("model %q: want 4 hex digits (SIG) or 8 (vendor: company then model)", s)
	}
	return access.ModelID(v), nil
}

// configRequest turns ACTION TARGET ARGS into a Configuration message.
func configRequest(args []string, appIndex uint16, ttl uint8) (*cfgRequest, error) {
	action := args[0]
	dst, err := parseAddr("target", args[1])
	if err != nil {
		return nil, err
	}
	rest := args[2:]
	need := func(n int, usage string) error {
		if len(rest) != n {
			return fmt.Errorf("%s: usage: config %s", action, usage)
		}
		return nil
	}
	r := &cfgRequest{dst: dst}
	switch action {
	case "composition":
		if err := need(0, "composition TARGET"); err != nil {
			return nil, err
		}
		r.msg = &config.CompositionDataGet{Page: 0}
	case "appkey-add":
		if err := need(0, "appkey-add TARGET"); err != nil {
			return nil, err
		}
		r.msg = &config.AppKeyAdd{AppKeyIndex: appIndex}
	case "bind", "sub-add", "pub-set":
		usage := map[string]string{"bind": "bind TARGET ELEMENT MODEL", "sub-add": "sub-add TARGET ELEMENT MODEL GROUP", "pub-set": "pub-set TARGET ELEMENT MODEL ADDRESS"}[action]
		if err := need(map[string]int{"bind": 2, "sub-add": 3, "pub-set": 3}[action], usage); err != nil {
			return nil, err
		}
		elem, err := parseAddr("element", rest[0])
		if err != nil {
			return nil, err
		}
		model, err := parseModel(rest[1])
		if err != nil {
			return nil, err
		}
		switch action {
		case "bind":
			r.msg = &config.ModelAppBind{ElementAddress: elem, AppKeyIndex: appIndex, Model: model}
		case "sub-add":
			g, err := parseAddr("group", rest[2])
			if err != nil {
				return nil, err
			}
			r.msg = &config.ModelSubscriptionAdd{ElementAddress: elem, Address: g, Model: model}
		case "pub-set":
			a, err := parseAddr("address", rest[2])
			if err != nil {
				return nil, err
			}
			r.msg = &config.ModelPublicationSet{ElementAddress: elem, PublishAddress: a, PublishParams: config.PublishParams{AppKeyIndex: appIndex, TTL: ttl}, Model: model}
		}
	case "default-ttl":
		if err := need(1, "default-ttl TARGET TTL"); err != nil {
			return nil, err
		}
		v, err := strconv.ParseUint(rest[0], 10, 8)
		if err != nil {
			return nil, fmt.Errorf("TTL %q: want 0 or 2–127", rest[0])
		}
		r.msg = &config.DefaultTTLSet{TTL: uint8(v)}
	case "reset":
		if err := need(0, "reset TARGET"); err != nil {
			return nil, err
		}
		r.msg = &config.NodeReset{}
	default:
		return nil, fmt.Errorf("unknown action %q (see meshdfu config --help)", action)
	}
	return r, nil
}

// describeStatus renders a status message as JSON fields, with its Status
// code by name ("Success", "Invalid Model", ...).
func describeStatus(m access.Message) map[string]any {
	b, _ := json.Marshal(m)
	out := map[string]any{}
	_ = json.Unmarshal(b, &out)
	if v, ok := out["Status"].(float64); ok {
		out["Status"] = config.Status(v).String()
	}
	out["opcode"] = m.Opcode().String()
	return out
}
