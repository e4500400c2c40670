import BoxOfficeApp

ProcessRunner.runConcurrencyOnEventLoops()
await ProcessRunner.run(name: "boxoffice-api", build: buildAPIApplication)
