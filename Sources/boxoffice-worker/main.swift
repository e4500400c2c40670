import BoxOfficeApp

ProcessRunner.runConcurrencyOnEventLoops()
await ProcessRunner.run(name: "boxoffice-worker", build: buildWorkerApplication)
