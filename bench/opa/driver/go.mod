module custos.dev/opa-bench

go 1.24

require github.com/open-policy-agent/opa v1.22.4
