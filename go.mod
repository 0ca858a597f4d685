module github.com/certplane/certplane

go 1.26.0
