using BatchScheduler.Cli;

return await SchedulerCommands.Create().Parse(args).InvokeAsync(new() { ProcessTerminationTimeout = null });
