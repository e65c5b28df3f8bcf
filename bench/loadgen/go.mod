module exos.local/bench/loadgen

go 1.22
