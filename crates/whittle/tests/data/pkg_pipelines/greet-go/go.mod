module example.com/greet-go

go 1.19
