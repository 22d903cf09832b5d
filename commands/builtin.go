package commands

// Builtin returns the registry of every Steward command. New commands are added here
// and nowhere else; help, dispatch and permissions all read this one list.
func Builtin() *Registry {
	return NewRegistry(
		CommandHelp,
		CommandPing,
		CommandWhoami,
		CommandStatus,
		CommandAlerts,
		CommandAck,
		CommandOnCall,
		CommandSilence,
		CommandSilences,
		CommandUnsilence,
		CommandMaintenance,
		CommandContainers,
		CommandLogs,
		CommandUpdates,
		CommandUpdate,
		CommandRestart,
		CommandStop,
		CommandStart,
		CommandBackups,
		CommandSnapshots,
		CommandBrowse,
		CommandRestore,
		CommandBackup,
		CommandReload,
		CommandLog,
		CommandSummary,
		CommandAnnounce,
		CommandPending,
		CommandApprove,
		CommandDeny,
		CommandCancel,
	)
}
