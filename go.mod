module github.com/cortex-db/cortex

go 1.26.8

require github.com/google/uuid v1.6.0
