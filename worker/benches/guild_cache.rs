//! Memory per cached guild: 2 000 guilds of 100 members and 12 roles each are fed to a
//! [`GuildCache`] as GUILD_CREATE events; the resident set size grows by what the cache keeps.
//! Also the time of a `member_permissions` + `highest_role_position` lookup.
//!
//! `cargo bench -p kyuta-worker --bench guild_cache` (Linux: reads `/proc/self/statm`).

use std::time::Instant;

use kyuta_worker::cache::GuildCache;
use serde_json::{Value, json};
use twilight_model::gateway::event::Event;
use twilight_model::gateway::payload::incoming::GuildCreate;
use twilight_model::guild::Guild;

const GUILDS: u64 = 2_000;
const MEMBERS: u64 = 100;
const ROLES: u64 = 12;

fn rss_bytes() -> u64 {
    let statm = std::fs::read_to_string("/proc/self/statm").expect("/proc/self/statm");
    let pages: u64 = statm
        .split_whitespace()
        .nth(1)
        .and_then(|p| p.parse().ok())
        .expect("rss pages");
    pages * 4096
}

fn guild(id: u64) -> Event {
    let base = id * 1_000_000;
    let roles: Vec<Value> = (0..ROLES)
        .map(|r| {
            let rid = if r == 0 { id } else { base + r };
            json!({
                "id": rid.to_string(), "name": format!("role {r}"), "description": null,
                "color": 0, "colors": {"primary_color": 0, "secondary_color": null, "tertiary_color": null},
                "hoist": false, "icon": null, "unicode_emoji": null, "position": r,
                "permissions": "104324673", "managed": false, "mentionable": false, "flags": 0,
            })
        })
        .collect();
    let members: Vec<Value> = (0..MEMBERS)
        .map(|m| {
            let uid = base + 1_000 + m;
            let member_roles: Vec<String> = (1..=(m % 3))
                .map(|k| (base + 1 + (m + k) % (ROLES - 1)).to_string())
                .collect();
            json!({
                "user": {"id": uid.to_string(), "username": format!("user{m}"),
                         "discriminator": "0", "global_name": null, "avatar": null},
                "nick": null, "avatar": null, "banner": null, "roles": member_roles,
                "joined_at": "2024-01-01T00:00:00.000000+00:00", "premium_since": null,
                "deaf": false, "mute": false, "flags": 0, "pending": false,
                "communication_disabled_until": null,
            })
        })
        .collect();
    let mut g = json!({
        "id": id.to_string(), "name": "bench", "icon": null, "splash": null,
        "discovery_splash": null, "owner_id": (base + 1_000).to_string(),
        "afk_channel_id": null, "afk_timeout": 300, "widget_enabled": false,
        "widget_channel_id": null, "verification_level": 1,
        "default_message_notifications": 1, "explicit_content_filter": 2, "emojis": [],
        "features": [], "mfa_level": 0, "application_id": null, "system_channel_id": null,
    });
    let more = json!({
        "system_channel_flags": 0, "rules_channel_id": null, "max_presences": null,
        "max_members": 500000, "vanity_url_code": null, "description": null, "banner": null,
        "premium_tier": 0, "premium_subscription_count": 0, "preferred_locale": "en-US",
        "public_updates_channel_id": null, "max_video_channel_users": 25, "nsfw_level": 0,
        "stickers": [], "premium_progress_bar_enabled": false,
        "safety_alerts_channel_id": null,
    });
    let gateway = json!({
        "joined_at": "2024-01-01T00:00:00.000000+00:00", "large": false, "unavailable": false,
        "member_count": MEMBERS, "members": members, "roles": roles, "channels": [],
        "threads": [], "presences": [], "voice_states": [], "stage_instances": [],
        "guild_scheduled_events": [], "nsfw": false,
    });
    let o = g.as_object_mut().expect("object");
    for part in [more, gateway] {
        if let Value::Object(m) = part {
            o.extend(m);
        }
    }
    let g: Guild = serde_json::from_value(g).expect("guild json");
    Event::GuildCreate(Box::new(GuildCreate::Available(g)))
}

fn main() {
    // Warm the allocator with one event built and dropped, so its pages are not counted.
    drop(guild(1));
    let cache = GuildCache::new();
    let before = rss_bytes();
    for id in 1..=GUILDS {
        let event = guild(id + 10);
        cache.update(&event);
    }
    let after = rss_bytes();
    let s = cache.stats();
    assert_eq!(s.guilds as u64, GUILDS);
    assert_eq!(s.members as u64, GUILDS * MEMBERS);
    let per_guild = (after.saturating_sub(before)) as f64 / GUILDS as f64;
    println!(
        "guild cache: {GUILDS} guilds x {MEMBERS} members x {ROLES} roles: RSS +{:.1} MiB, {:.0} bytes per guild ({:.0} per member)",
        (after - before) as f64 / (1024.0 * 1024.0),
        per_guild,
        per_guild / MEMBERS as f64
    );

    let lookups = 1_000_000u64;
    let start = Instant::now();
    let mut hits = 0u64;
    for i in 0..lookups {
        let g = 11 + i % GUILDS;
        let u = g * 1_000_000 + 1_000 + (i % MEMBERS);
        if cache.member_permissions(g, u).is_some() && cache.highest_role_position(g, u).is_some() {
            hits += 1;
        }
    }
    let el = start.elapsed();
    assert_eq!(hits, lookups);
    println!(
        "guild cache: member_permissions + highest_role_position: {:.0} ns per pair ({lookups} pairs)",
        el.as_nanos() as f64 / lookups as f64
    );
}
