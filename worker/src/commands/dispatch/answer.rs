//! How a command's answer reaches the invoker: the interaction response (direct, or deferred
//! and then edited), or the reply to a prefix command; and the progress a long command shows
//! on the way.

use std::time::Duration;

use tokio::sync::watch;
use twilight_model::{
    channel::message::{AllowedMentions, MessageFlags},
    http::interaction::{InteractionResponse, InteractionResponseData, InteractionResponseType},
    id::{
        Id,
        marker::{ChannelMarker, InteractionMarker, MessageMarker},
    },
};

use super::super::{CommandError, Reply};
use super::Dispatcher;

pub(super) fn no_mentions() -> AllowedMentions {
    AllowedMentions::default()
}

/// Least time between two progress edits of one answer (an edit is a REST request; a
/// moderator reads no faster).
pub const PROGRESS_EVERY: Duration = Duration::from_secs(2);

/// Where a command's answer goes, and how far it got.
#[derive(Debug)]
pub(super) enum Answer {
    /// An interaction: answered directly, or deferred and then edited.
    Interaction {
        id: Id<InteractionMarker>,
        token: String,
        /// The command's default visibility, which a defer keeps.
        ephemeral: bool,
        /// `None` until a defer was tried; then whether it succeeded.
        deferred: Option<bool>,
    },
    /// A prefix command: a reply message, posted once and then edited.
    Message {
        channel: Id<ChannelMarker>,
        reply_to: Id<MessageMarker>,
        /// The reply posted for progress, which the answer replaces.
        posted: Option<Id<MessageMarker>>,
    },
}

impl Answer {
    pub(super) fn needs_defer(&self) -> bool {
        matches!(self, Self::Interaction { deferred: None, .. })
    }
}

impl Dispatcher {
    /// Runs `work` and, while it runs, answers for it: an interaction is deferred after
    /// `defer_after` (or when progress is first shown), and progress reports edit the
    /// deferred answer or the reply posted to a prefix command: first once the command has
    /// run for [`PROGRESS_EVERY`], then at most every [`PROGRESS_EVERY`], always the latest.
    pub(super) async fn with_progress<F>(
        &self,
        work: F,
        mut updates: watch::Receiver<Option<String>>,
        answer: &mut Answer,
        defer_after: Option<Duration>,
    ) -> Result<Reply, CommandError>
    where
        F: std::future::Future<Output = Result<Reply, CommandError>>,
    {
        tokio::pin!(work);
        // Without a defer (prefix commands) the deadline is never armed.
        let deadline = tokio::time::sleep(defer_after.unwrap_or(Duration::from_secs(3600)));
        tokio::pin!(deadline);
        let mut open = true;
        let mut pending = false;
        // A command done within PROGRESS_EVERY answers once, without progress.
        let mut last_shown = tokio::time::Instant::now();
        loop {
            let next_show = last_shown + PROGRESS_EVERY;
            tokio::select! {
                biased;
                r = &mut work => return r,
                () = &mut deadline, if defer_after.is_some() && answer.needs_defer() => {
                    self.start_answer(answer).await;
                }
                changed = updates.changed(), if open => {
                    if changed.is_err() {
                        open = false;
                    } else {
                        pending = true;
                    }
                }
                () = tokio::time::sleep_until(next_show), if pending => {
                    pending = false;
                    let text = updates.borrow_and_update().clone();
                    if let Some(text) = text {
                        if answer.needs_defer() {
                            self.start_answer(answer).await;
                        }
                        self.show_progress(answer, &text).await;
                        last_shown = tokio::time::Instant::now();
                    }
                }
            }
        }
    }

    /// Defers an interaction answer that is not deferred yet.
    pub(super) async fn start_answer(&self, answer: &mut Answer) {
        if let Answer::Interaction {
            id,
            token,
            ephemeral,
            deferred,
        } = answer
            && deferred.is_none()
        {
            *deferred = Some(self.defer(*id, token, *ephemeral).await);
        }
    }

    /// Shows `text` as the progress: edits the deferred interaction answer, or posts (then
    /// edits) a reply to the prefix command. Failures are logged: progress is best effort.
    pub(super) async fn show_progress(&self, answer: &mut Answer, text: &str) {
        let reply = Reply::text(text);
        match answer {
            Answer::Interaction {
                token,
                ephemeral,
                deferred: Some(true),
                ..
            } => {
                let token = token.clone();
                let ephemeral = *ephemeral;
                self.edit_deferred(&token, &reply, ephemeral, false).await;
            }
            Answer::Interaction { .. } => {}
            Answer::Message { posted: None, .. } => match self.post_reply(answer, &reply).await {
                Ok(id) => {
                    if let Answer::Message { posted, .. } = answer {
                        *posted = id;
                    }
                }
                Err(e) => tracing::debug!(error = %e, "could not post the progress reply"),
            },
            Answer::Message { .. } => {
                if let Err(e) = self.post_reply(answer, &reply).await {
                    tracing::debug!(error = %e, "could not edit the progress reply");
                }
            }
        }
    }

    /// Sends a prefix command's reply: a new reply to the command, or an edit of the one
    /// its progress posted. Returns the id of a new message.
    pub(super) async fn post_reply(
        &self,
        answer: &Answer,
        reply: &Reply,
    ) -> Result<Option<Id<MessageMarker>>, crate::rest::RestError> {
        let Answer::Message {
            channel,
            reply_to,
            posted,
        } = answer
        else {
            return Ok(None);
        };
        let (channel, reply_to) = (*channel, *reply_to);
        let content = reply.content.clone().unwrap_or_default();
        let embeds = reply.embeds.clone();
        let mentions = no_mentions();
        if let Some(posted) = *posted {
            self.services
                .rest
                .call("update_message", |c| {
                    c.update_message(channel, posted)
                        .content(Some(&content))
                        .embeds(Some(&embeds))
                        .allowed_mentions(Some(&mentions))
                        .into_future()
                })
                .await?;
            return Ok(None);
        }
        let sent = self
            .services
            .rest
            .call("create_message", |c| {
                let mut req = c
                    .create_message(channel)
                    .reply(reply_to)
                    .fail_if_not_exists(false)
                    .allowed_mentions(Some(&mentions))
                    .embeds(&embeds);
                if !content.is_empty() {
                    req = req.content(&content);
                }
                req.into_future()
            })
            .await?;
        Ok(sent.model().await.ok().map(|m| m.id))
    }

    pub(super) async fn defer(
        &self,
        id: Id<twilight_model::id::marker::InteractionMarker>,
        token: &str,
        ephemeral: bool,
    ) -> bool {
        let response = InteractionResponse {
            kind: InteractionResponseType::DeferredChannelMessageWithSource,
            data: Some(InteractionResponseData {
                flags: ephemeral.then_some(MessageFlags::EPHEMERAL),
                ..InteractionResponseData::default()
            }),
        };
        let app = self.services.application_id;
        let res = self
            .services
            .rest
            .interaction("interaction_defer", |c| {
                c.interaction(app)
                    .create_response(id, token, &response)
                    .into_future()
            })
            .await;
        match res {
            Ok(_) => {
                self.services.metrics.deferred.inc();
                true
            }
            Err(e) => {
                tracing::warn!(error = %e, "could not defer the interaction");
                false
            }
        }
    }

    /// Answers a deferred interaction by editing the loading message, which the defer posted
    /// with the command's default visibility (`deferred_ephemeral`). Discord keeps that
    /// visibility for the edit and for a first follow-up alike, so a `private` answer after a
    /// public defer is replaced by a notice instead of being shown to the channel.
    pub(super) async fn edit_deferred(
        &self,
        token: &str,
        reply: &Reply,
        deferred_ephemeral: bool,
        private: bool,
    ) {
        let app = self.services.application_id;
        let mentions = no_mentions();
        // Commands with private answers declare it, so their defer is private; this is the
        // guard for one that does not.
        let private_notice;
        let reply = if private && !deferred_ephemeral {
            tracing::warn!("a private answer after a public defer: not shown in the channel");
            private_notice = Reply::error(
                "the answer is private and took too long to be shown only to you; run the command again",
            );
            &private_notice
        } else {
            reply
        };
        let res = self
            .services
            .rest
            .interaction("interaction_edit_response", |c| {
                c.interaction(app)
                    .update_response(token)
                    .content(reply.content.as_deref())
                    .embeds(Some(&reply.embeds))
                    .allowed_mentions(Some(&mentions))
                    .into_future()
            })
            .await;
        if let Err(e) = res {
            tracing::warn!(error = %e, "could not edit the deferred response");
        }
    }

    pub(super) async fn respond(
        &self,
        id: Id<twilight_model::id::marker::InteractionMarker>,
        token: &str,
        reply: &Reply,
        ephemeral: bool,
    ) {
        let response = InteractionResponse {
            kind: InteractionResponseType::ChannelMessageWithSource,
            data: Some(InteractionResponseData {
                allowed_mentions: Some(no_mentions()),
                content: reply.content.clone(),
                embeds: Some(reply.embeds.clone()),
                flags: ephemeral.then_some(MessageFlags::EPHEMERAL),
                ..InteractionResponseData::default()
            }),
        };
        let app = self.services.application_id;
        let res = self
            .services
            .rest
            .interaction("interaction_response", |c| {
                c.interaction(app)
                    .create_response(id, token, &response)
                    .into_future()
            })
            .await;
        if let Err(e) = res {
            tracing::warn!(error = %e, "could not answer the interaction");
        }
    }

    /// Answers an interaction with a form (a context-menu entry asking for words).
    pub(super) async fn respond_modal(
        &self,
        id: Id<twilight_model::id::marker::InteractionMarker>,
        token: &str,
        modal: &super::super::menu::Modal,
    ) {
        let response = InteractionResponse {
            kind: InteractionResponseType::Modal,
            data: Some(InteractionResponseData {
                custom_id: Some(modal.custom_id.clone()),
                title: Some(modal.title.clone()),
                components: Some(modal.components()),
                ..InteractionResponseData::default()
            }),
        };
        let app = self.services.application_id;
        let res = self
            .services
            .rest
            .interaction("interaction_modal", |c| {
                c.interaction(app)
                    .create_response(id, token, &response)
                    .into_future()
            })
            .await;
        if let Err(e) = res {
            tracing::warn!(error = %e, "could not show the form");
        }
    }
}
