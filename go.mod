module github.com/meshdfu/meshdfu

go 1.26
