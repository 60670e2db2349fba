//! What a command answers: text and/or embeds, ephemeral or not.

use twilight_model::channel::message::{
    Embed,
    embed::{EmbedAuthor, EmbedField, EmbedFooter, EmbedThumbnail},
};

/// Kyuta's embed colour.
pub const COLOUR: u32 = 0x0058_65F2;
/// Colour of error embeds.
pub const ERROR_COLOUR: u32 = 0x00ED_4245;

/// A command's answer.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Reply {
    /// Text content.
    pub content: Option<String>,
    /// Embeds (at most 10).
    pub embeds: Vec<Embed>,
    /// `Some(true)` ephemeral, `Some(false)` public, `None` the command's default. Prefix
    /// replies cannot be ephemeral and are always public.
    pub ephemeral: Option<bool>,
    /// A form to show instead of an answer (context-menu entries that need words from the
    /// moderator; see [`super::menu`]).
    pub modal: Option<super::menu::Modal>,
}

impl Reply {
    /// A text reply.
    #[must_use]
    pub fn text(content: impl Into<String>) -> Self {
        Self {
            content: Some(content.into()),
            ..Self::default()
        }
    }

    /// A reply with one embed.
    #[must_use]
    pub fn embed(embed: Embed) -> Self {
        Self {
            embeds: vec![embed],
            ..Self::default()
        }
    }

    /// Shows `modal`, a form whose submission runs the entry again.
    #[must_use]
    pub fn modal(modal: super::menu::Modal) -> Self {
        Self {
            modal: Some(modal),
            ..Self::default()
        }
    }

    /// An error reply (ephemeral, red embed).
    #[must_use]
    pub fn error(message: impl Into<String>) -> Self {
        Self {
            embeds: vec![
                EmbedBuilder::new()
                    .description(message)
                    .colour(ERROR_COLOUR)
                    .build(),
            ],
            ephemeral: Some(true),
            ..Self::default()
        }
    }

    /// Makes the reply ephemeral.
    #[must_use]
    pub fn ephemeral(mut self) -> Self {
        self.ephemeral = Some(true);
        self
    }

    /// Makes the reply public even if the command is ephemeral by default.
    #[must_use]
    pub fn public(mut self) -> Self {
        self.ephemeral = Some(false);
        self
    }

    /// Adds an embed.
    #[must_use]
    pub fn with_embed(mut self, embed: Embed) -> Self {
        self.embeds.push(embed);
        self
    }

    /// All text of the reply (content, titles, descriptions, fields), for tests and logs.
    #[must_use]
    pub fn plain_text(&self) -> String {
        let mut out = String::new();
        if let Some(c) = &self.content {
            out.push_str(c);
            out.push('\n');
        }
        for e in &self.embeds {
            for part in [&e.title, &e.description].into_iter().flatten() {
                out.push_str(part);
                out.push('\n');
            }
            for f in &e.fields {
                out.push_str(&f.name);
                out.push_str(": ");
                out.push_str(&f.value);
                out.push('\n');
            }
            if let Some(f) = &e.footer {
                out.push_str(&f.text);
                out.push('\n');
            }
        }
        out
    }
}

/// Builds an [`Embed`] (Discord's limits are checked by Discord; keep text short).
#[derive(Debug, Clone)]
#[must_use]
pub struct EmbedBuilder(Embed);

impl Default for EmbedBuilder {
    fn default() -> Self {
        Self::new()
    }
}

impl EmbedBuilder {
    /// An empty rich embed in Kyuta's colour.
    pub fn new() -> Self {
        Self(Embed {
            author: None,
            color: Some(COLOUR),
            description: None,
            fields: Vec::new(),
            flags: None,
            footer: None,
            image: None,
            kind: "rich".to_owned(),
            provider: None,
            thumbnail: None,
            timestamp: None,
            title: None,
            url: None,
            video: None,
        })
    }

    /// Title.
    pub fn title(mut self, title: impl Into<String>) -> Self {
        self.0.title = Some(title.into());
        self
    }

    /// Description.
    pub fn description(mut self, description: impl Into<String>) -> Self {
        self.0.description = Some(description.into());
        self
    }

    /// Colour (0xRRGGBB).
    pub fn colour(mut self, colour: u32) -> Self {
        self.0.color = Some(colour);
        self
    }

    /// A field.
    pub fn field(
        mut self,
        name: impl Into<String>,
        value: impl Into<String>,
        inline: bool,
    ) -> Self {
        self.0.fields.push(EmbedField {
            inline,
            name: name.into(),
            value: value.into(),
        });
        self
    }

    /// Footer text.
    pub fn footer(mut self, text: impl Into<String>) -> Self {
        self.0.footer = Some(EmbedFooter {
            icon_url: None,
            proxy_icon_url: None,
            text: text.into(),
        });
        self
    }

    /// Author line.
    pub fn author(mut self, name: impl Into<String>, icon_url: Option<String>) -> Self {
        self.0.author = Some(EmbedAuthor {
            icon_url,
            name: name.into(),
            proxy_icon_url: None,
            url: None,
        });
        self
    }

    /// Thumbnail image.
    pub fn thumbnail(mut self, url: impl Into<String>) -> Self {
        self.0.thumbnail = Some(EmbedThumbnail {
            height: None,
            proxy_url: None,
            url: url.into(),
            width: None,
        });
        self
    }

    /// The embed.
    #[must_use]
    pub fn build(self) -> Embed {
        self.0
    }
}
