# BoxOffice: the local stack and the test suite. See README.md.
.PHONY: up up-scale down status logs test bench build install clean-run

up:            ## install what is missing, build, start the stack, print where it is
	@scripts/up.sh

up-scale:      ## the same, scaled: Redis Cluster 7001-7006, API replicas 8081/8082 behind haproxy on 8080, workers 9101/9102
	@scripts/up.sh --scale

down:          ## stop exactly what `make up` or `make up-scale` started
	@scripts/down.sh

status:        ## one line per process of the stack
	@scripts/stack.sh status

logs:          ## follow the stack's logs (Ctrl-C to stop)
	@tail -n 40 -F .run/logs/*.log

test:          ## the whole suite on its own servers and ports
	@scripts/test.sh

install:       ## only install the apt and pip packages
	@scripts/install.sh

build:         ## debug build
	swift build

clean-run: down ## stop the stack and delete its state (.run/, and PostgreSQL's data wherever it lives)
	@scripts/clean-run.sh

bench:         ## benchmarks and a k6 on-sale rehearsal on the running stack; prints a report
	@scripts/bench.sh
