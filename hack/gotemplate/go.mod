module csops.local/gotemplate

go 1.26.0

require github.com/go-task/slim-sprig v0.0.0-20230315185526-52ccab3ef572
