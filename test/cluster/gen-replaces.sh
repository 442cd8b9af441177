#!/usr/bin/env bash
# Prints the `replace` block that pins every k8s.io staging module of a kubernetes release
# to its published v0.x tag. Generated from the real go.mod of k8s.io/kubernetes, never hand-kept:
#   test/cluster/gen-replaces.sh 1.34.3 > /tmp/r && (edit go.mod's replace block with it)
set -euo pipefail
V=${1:?usage: gen-replaces.sh 1.34.3}
MOD=$(GOFLAGS=-mod=mod go mod download -json "k8s.io/kubernetes@v$V" | sed -n 's/.*"GoMod": "\(.*\)",*/\1/p')
echo "replace ("
grep -E '^[[:space:]]+k8s\.io/[a-z0-9-]+ => \./staging/' "$MOD" |
  awk -v v="v0.${V#1.}" '{ printf "\t%s => %s %s\n", $1, $1, v }'
echo ")"
