module github.com/causality-dev/causality/sdk/go

go 1.22
