// Command argocd-health runs an Argo CD resource health script through Argo CD's own Lua
// runtime (github.com/argoproj/argo-cd/v2/util/lua, gopher-lua, Lua 5.1), the code path Argo CD
// uses for resource.customizations.health.<group_kind>.
//
// Usage: argocd-health SCRIPT.lua < objects.json
//
// stdin is a JSON array of Kubernetes objects (as `kubectl get -o json` prints them); stdout is a
// JSON array with one {"status", "message"} per object, or {"error"} where the script failed.
package main

import (
	"encoding/json"
	"fmt"
	"io"
	"os"

	"github.com/argoproj/argo-cd/v2/util/lua"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
)

type result struct {
	Status  string `json:"status,omitempty"`
	Message string `json:"message,omitempty"`
	Error   string `json:"error,omitempty"`
}

func main() {
	if len(os.Args) != 2 {
		fmt.Fprintln(os.Stderr, "usage: argocd-health SCRIPT.lua < objects.json")
		os.Exit(2)
	}
	script, err := os.ReadFile(os.Args[1])
	if err != nil {
		fail(err)
	}
	input, err := io.ReadAll(os.Stdin)
	if err != nil {
		fail(err)
	}
	var raw []json.RawMessage
	if err := json.Unmarshal(input, &raw); err != nil {
		fail(fmt.Errorf("stdin is not a JSON array: %w", err))
	}
	results := make([]result, 0, len(raw))
	for _, item := range raw {
		// As from the API server: integers become int64, as in Argo CD's cluster cache.
		obj := &unstructured.Unstructured{}
		if err := obj.UnmarshalJSON(item); err != nil {
			fail(err)
		}
		// UseOpenLibs false: the default for a health customization in argocd-cm.
		hs, err := lua.VM{}.ExecuteHealthLua(obj, string(script))
		if err != nil {
			results = append(results, result{Error: err.Error()})
			continue
		}
		results = append(results, result{Status: string(hs.Status), Message: hs.Message})
	}
	if err := json.NewEncoder(os.Stdout).Encode(results); err != nil {
		fail(err)
	}
}

func fail(err error) {
	fmt.Fprintln(os.Stderr, "argocd-health:", err)
	os.Exit(1)
}
