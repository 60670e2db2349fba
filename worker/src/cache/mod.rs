//! In-process caches.
