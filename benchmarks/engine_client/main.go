// Command engine_client times a preview's Check and Diff calls from a Go gRPC client, as
// the Pulumi engine makes them, so the figure carries the plugin's cost and not a Python
// client's.
//
// The engine dials a provider plugin with grpc-go on 127.0.0.1:<port>, insecure
// credentials, a raised receive limit and tracing interceptors that do nothing unless
// tracing is on (pulumi/pulumi sdk/go/common/resource/plugin/provider_plugin.go
// providerPluginDialOptions; plugin.go dialPlugin; rpcutil/serve.go GrpcChannelOptions),
// and during a preview calls Check then Diff for one resource after another
// (pkg/resource/deploy/step_generator.go). The requests arrive already encoded (see
// benchmarks/preview.py): the engine's own protobuf work is not what is measured, so the
// client passes bytes through a codec that neither builds nor parses messages.
//
// Input: records of a 4-byte little-endian length and that many bytes, a Check request
// then a Diff request per resource. Output on stdout, one JSON object: the best round in
// milliseconds per resource, for the preview and for two empty GetPluginInfo calls.
// With -answers, the last round's answers are written there in the same record format.
package main

import (
	"context"
	"encoding/binary"
	"encoding/json"
	"flag"
	"fmt"
	"io"
	"math"
	"os"
	"time"

	"google.golang.org/grpc"
)

const (
	service           = "/pulumirpc.ResourceProvider/"
	maxRPCMessageSize = 1024 * 1024 * 400 // rpcutil.maxRPCMessageSize
)

// raw passes encoded messages through unchanged.
type raw struct{}

func (raw) Marshal(v interface{}) ([]byte, error) { return *(v.(*[]byte)), nil }

func (raw) Unmarshal(data []byte, v interface{}) error {
	out := v.(*[]byte)
	*out = append((*out)[:0], data...)
	return nil
}

func (raw) Name() string { return "proto" }

func readRecords(path string) ([][]byte, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		return nil, err
	}
	var records [][]byte
	for len(data) > 0 {
		if len(data) < 4 {
			return nil, fmt.Errorf("%s: truncated length", path)
		}
		size := int(binary.LittleEndian.Uint32(data))
		if len(data)-4 < size {
			return nil, fmt.Errorf("%s: truncated record", path)
		}
		records = append(records, data[4:4+size])
		data = data[4+size:]
	}
	return records, nil
}

func writeRecords(w io.Writer, records [][]byte) error {
	for _, record := range records {
		var size [4]byte
		binary.LittleEndian.PutUint32(size[:], uint32(len(record)))
		if _, err := w.Write(size[:]); err != nil {
			return err
		}
		if _, err := w.Write(record); err != nil {
			return err
		}
	}
	return nil
}

type client struct{ conn *grpc.ClientConn }

func (c client) call(method string, request []byte) ([]byte, error) {
	var answer []byte
	err := c.conn.Invoke(context.Background(), service+method, &request, &answer, grpc.ForceCodec(raw{}))
	return answer, err
}

// bestRound runs one warm-up round, then keeps the fastest of rounds, in ms per resource.
func bestRound(rounds, resources int, round func() error) (float64, error) {
	if err := round(); err != nil {
		return 0, err
	}
	best := math.Inf(1)
	for i := 0; i < rounds; i++ {
		started := time.Now()
		if err := round(); err != nil {
			return 0, err
		}
		best = math.Min(best, float64(time.Since(started).Nanoseconds())/1e6)
	}
	return best / float64(resources), nil
}

func run() error {
	addr := flag.String("addr", "", "the plugin's host:port")
	in := flag.String("requests", "", "the encoded Check and Diff requests")
	answersPath := flag.String("answers", "", "where to write the last round's answers")
	rounds := flag.Int("rounds", 3, "timed rounds after one warm-up")
	flag.Parse()

	requests, err := readRecords(*in)
	if err != nil {
		return err
	}
	if len(requests) == 0 || len(requests)%2 != 0 {
		return fmt.Errorf("%s: want a Check and a Diff request per resource, got %d records", *in, len(requests))
	}
	resources := len(requests) / 2

	conn, err := grpc.Dial(*addr, grpc.WithInsecure(), grpc.WithBlock(),
		grpc.WithDefaultCallOptions(grpc.MaxCallRecvMsgSize(maxRPCMessageSize)))
	if err != nil {
		return err
	}
	defer conn.Close()
	c := client{conn}

	answers := make([][]byte, len(requests))
	preview := func() error {
		for i := 0; i < len(requests); i += 2 {
			if answers[i], err = c.call("Check", requests[i]); err != nil {
				return err
			}
			if answers[i+1], err = c.call("Diff", requests[i+1]); err != nil {
				return err
			}
		}
		return nil
	}
	perResource, err := bestRound(*rounds, resources, preview)
	if err != nil {
		return err
	}
	empty := func() error {
		for i := 0; i < len(requests); i++ {
			if _, err := c.call("GetPluginInfo", nil); err != nil {
				return err
			}
		}
		return nil
	}
	floor, err := bestRound(*rounds, resources, empty)
	if err != nil {
		return err
	}
	if *answersPath != "" {
		file, err := os.Create(*answersPath)
		if err != nil {
			return err
		}
		if err := writeRecords(file, answers); err != nil {
			file.Close()
			return err
		}
		if err := file.Close(); err != nil {
			return err
		}
	}
	return json.NewEncoder(os.Stdout).Encode(map[string]float64{
		"preview_ms_per_resource": perResource,
		"floor_ms_per_resource":   floor,
	})
}

func main() {
	if err := run(); err != nil {
		fmt.Fprintln(os.Stderr, "engine_client:", err)
		os.Exit(1)
	}
}
