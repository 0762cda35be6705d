// opa-bench: Open Policy Agent's decisions per second on the events the policy benchmark judges
// (bench/opa.bench.ts), through OPA's embedded Go API: the Rego module compiled once into a prepared
// query, each event's input converted to OPA's value type before timing (the TypeScript engine, too,
// is handed parsed objects), then evaluated one event at a time on one goroutine.
//
//	opa-bench -rego custos.rego -data data.json -events events.ndjson -reps 5 -out outcomes.txt
//
// events.ndjson: one {"event": …, "bulk_distinct": n} per line. Prints one JSON object: the
// decisions/s of each timed pass, and the process CPU (all threads, the garbage collector's too) per
// decision of each, which a loaded machine inflates far less than wall time. -out: one line per event, "outcome:CODE,CODE" as the first pass
// decided, for the caller to compare with the TypeScript engine's.
package main

import (
	"bufio"
	"context"
	"encoding/json"
	"flag"
	"fmt"
	"os"
	"runtime"
	"runtime/pprof"
	"strings"
	"syscall"
	"time"

	"github.com/open-policy-agent/opa/v1/ast"
	"github.com/open-policy-agent/opa/v1/rego"
	"github.com/open-policy-agent/opa/v1/storage/inmem"
)

func must(err error) {
	if err != nil {
		fmt.Fprintln(os.Stderr, "opa-bench:", err)
		os.Exit(1)
	}
}

func main() {
	regoPath := flag.String("rego", "", "the Rego module")
	dataPath := flag.String("data", "", "the data document (JSON)")
	eventsPath := flag.String("events", "", "inputs, one JSON object per line")
	reps := flag.Int("reps", 5, "timed passes over all events")
	batch := flag.Int("batch", 0, "evaluate this many events per query (data.custos.decisions) instead of one")
	out := flag.String("out", "", "write each event's outcome and codes here")
	cpuprofile := flag.String("cpuprofile", "", "write a CPU profile of the timed passes here (go tool pprof)")
	flag.Parse()

	module, err := os.ReadFile(*regoPath)
	must(err)
	raw, err := os.ReadFile(*dataPath)
	must(err)
	var data map[string]any
	must(json.Unmarshal(raw, &data))

	var inputs []ast.Value
	f, err := os.Open(*eventsPath)
	must(err)
	sc := bufio.NewScanner(f)
	sc.Buffer(make([]byte, 1<<20), 1<<24)
	for sc.Scan() {
		var v any
		must(json.Unmarshal(sc.Bytes(), &v))
		av, err := ast.InterfaceToValue(v)
		must(err)
		inputs = append(inputs, av)
	}
	must(sc.Err())
	f.Close()

	query := "data.custos.decision"
	if *batch > 0 {
		query = "data.custos.decisions"
	}
	ctx := context.Background()
	pq, err := rego.New(
		rego.Query(query),
		rego.Module("custos.rego", string(module)),
		// Values kept as OPA's own (AST) values: a read of data is then a lookup, not a conversion.
		rego.Store(inmem.NewFromObjectWithOpts(data, inmem.OptReturnASTValuesOnRead(true))),
	).PrepareForEval(ctx)
	must(err)

	// The batch variant's inputs: {"items": [...]} of consecutive events.
	var batches []ast.Value
	if *batch > 0 {
		for i := 0; i < len(inputs); i += *batch {
			j := min(i+*batch, len(inputs))
			terms := make([]*ast.Term, 0, j-i)
			for _, v := range inputs[i:j] {
				terms = append(terms, ast.NewTerm(v))
			}
			batches = append(batches, ast.NewObject(ast.Item(ast.StringTerm("items"), ast.ArrayTerm(terms...))))
		}
	}

	codes := make([]string, 0, len(inputs))
	record := func(d any) {
		m := d.(map[string]any)
		cs := []string{}
		for _, c := range m["codes"].([]any) {
			cs = append(cs, c.(string))
		}
		if len(cs) == 0 {
			codes = append(codes, m["outcome"].(string))
		} else {
			codes = append(codes, m["outcome"].(string)+":"+strings.Join(cs, ","))
		}
	}
	cpu := func() time.Duration {
		var ru syscall.Rusage
		must(syscall.Getrusage(syscall.RUSAGE_SELF, &ru))
		return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
	}
	cpuUs := []float64{}
	pass := func(keep bool) float64 {
		start := time.Now()
		cpu0 := cpu()
		if !keep {
			defer func() {
				cpuUs = append(cpuUs, float64(cpu()-cpu0)/float64(time.Microsecond)/float64(len(inputs)))
			}()
		}
		if *batch > 0 {
			for _, in := range batches {
				rs, err := pq.Eval(ctx, rego.EvalParsedInput(in))
				must(err)
				if keep {
					for _, d := range rs[0].Expressions[0].Value.([]any) {
						record(d)
					}
				}
			}
		} else {
			for _, in := range inputs {
				rs, err := pq.Eval(ctx, rego.EvalParsedInput(in))
				must(err)
				if len(rs) != 1 {
					must(fmt.Errorf("no decision for an event (%d results)", len(rs)))
				}
				if keep {
					record(rs[0].Expressions[0].Value)
				}
			}
		}
		return float64(len(inputs)) / time.Since(start).Seconds()
	}

	pass(true) // warm-up, and the outcomes
	if *out != "" {
		must(os.WriteFile(*out, []byte(strings.Join(codes, "\n")+"\n"), 0o644))
	}
	if *cpuprofile != "" {
		pf, err := os.Create(*cpuprofile)
		must(err)
		must(pprof.StartCPUProfile(pf))
		defer pprof.StopCPUProfile()
	}
	rates := []float64{}
	for r := 0; r < *reps; r++ {
		runtime.GC()
		rates = append(rates, pass(false))
	}
	res, _ := json.Marshal(map[string]any{"events": len(inputs), "decisions_per_s": rates, "cpu_us_per_decision": cpuUs, "query": query, "gomaxprocs": runtime.GOMAXPROCS(0)})
	fmt.Println(string(res))
	if *cpuprofile != "" {
		pprof.StopCPUProfile()
	}
}
