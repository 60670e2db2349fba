//! A Discord simulator: gateway v10 and REST v10 with Discord's limits and error codes.
