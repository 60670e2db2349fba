# Kyuta — English (United States). The fallback for every other language.
# Command descriptions are written in the code; this file holds the runtime messages.

error-missing-permissions = you need the { $missing } permission to use this command
error-bot-cannot = I can't do that: { $reason }
error-cooldown = slow down: you can use this command again in { $seconds }s
error-guild-only = this command only works in a server
error-foreign-channel = { $mention } is not a channel of this server
error-foreign-role = { $mention } is not a role of this server
error-store-unavailable = storage is unavailable right now and nothing was changed; try again shortly
error-discord = Discord did not accept the request: { $reason }
error-shutting-down = the bot is restarting; try again in a few seconds
error-internal = something went wrong on our side; it has been logged

language-set = This server's language is now { $language }: prefix commands answer in it, and slash commands answer members in their Discord language when I speak it.
prefix-set = Prefix commands in this server now start with `{ $prefix }`, for example `{ $prefix }help`.
prefix-reset = Prefix commands in this server use the default prefix `{ $prefix }` again.
prefix-current = Prefix commands in this server start with `{ $prefix }`. Set another with `/prefix` followed by the new one (up to 16 characters, no spaces).
