//! `PartnerIssue`: a Trading Grid community discussion, with its messages,
//! documents, transactions and the Core Case case tracking it.

use async_graphql::{Context, InputObject, Object, SimpleObject, ID};
use chrono::{DateTime, Utc};

use super::{Case, Document, TradingPartner, Transaction};
use crate::domain::{self, AuthorRole, IssueKind, IssueStatus};
use crate::graphql::{fetch, scope};

/// A partner issue: a discussion a trading partner opened (or that was opened
/// about them) in their Trading Grid community.
pub(crate) struct PartnerIssue(pub domain::Issue);

/// A partner issue: a discussion a trading partner opened (or that was opened
/// about them) in their Trading Grid community.
#[Object]
impl PartnerIssue {
    /// Trading Grid discussion id, e.g. `DSC-000001`.
    pub(crate) async fn id(&self) -> ID {
        ID(self.0.id.to_string())
    }
    /// Thread title.
    async fn title(&self) -> &str {
        &self.0.title
    }
    /// What the issue is about.
    async fn kind(&self) -> IssueKind {
        self.0.kind
    }
    /// Where the discussion stands on Trading Grid.
    async fn status(&self) -> IssueStatus {
        self.0.status
    }
    /// Community tags on the thread.
    async fn tags(&self) -> &[String] {
        &self.0.tags
    }
    /// Number of messages in the thread.
    async fn message_count(&self) -> u32 {
        self.0.message_count
    }
    /// When the thread was opened.
    async fn created_at(&self) -> DateTime<Utc> {
        self.0.created_at
    }
    /// Last activity on the thread.
    async fn updated_at(&self) -> DateTime<Utc> {
        self.0.updated_at
    }
    /// The trading partner the issue belongs to. Null only when Trading Grid is unavailable.
    async fn partner(&self, ctx: &Context<'_>) -> async_graphql::Result<Option<TradingPartner>> {
        fetch::partner(ctx, &self.0.partner_id).await
    }
    /// The conversation, oldest message first.
    async fn messages(&self, ctx: &Context<'_>) -> async_graphql::Result<Option<Vec<Message>>> {
        let s = scope(ctx)?;
        let messages = s
            .loaders
            .tg
            .load_one(crate::graphql::loaders::MessagesOfIssue(self.0.id.clone()))
            .await?
            .unwrap_or_default();
        Ok(Some(messages.into_iter().map(Message).collect()))
    }
    /// Documents shared in the thread.
    async fn documents(&self, ctx: &Context<'_>) -> async_graphql::Result<Option<Vec<Document>>> {
        fetch::documents_of_issue(ctx, &self.0.id).await.map(Some)
    }
    /// B2B transactions the thread is about.
    async fn transactions(
        &self,
        ctx: &Context<'_>,
    ) -> async_graphql::Result<Option<Vec<Transaction>>> {
        fetch::transactions(ctx, &self.0.transaction_ids)
            .await
            .map(Some)
    }
    /// The Core Case case tracking this issue, once escalated.
    async fn case(&self, ctx: &Context<'_>) -> async_graphql::Result<Option<Case>> {
        match &self.0.case_id {
            Some(id) => fetch::case(ctx, id).await,
            None => Ok(None),
        }
    }
}

/// One message of an issue's conversation.
pub(crate) struct Message(pub domain::Message);

/// One message of an issue's conversation.
#[Object]
impl Message {
    /// Trading Grid message id.
    async fn id(&self) -> ID {
        ID(self.0.id.clone())
    }
    /// Who wrote it.
    async fn author(&self) -> MessageAuthor {
        MessageAuthor {
            name: self.0.author_name.clone(),
            role: self.0.author_role,
        }
    }
    /// Message text.
    async fn body(&self) -> &str {
        &self.0.body
    }
    /// When it was posted.
    async fn created_at(&self) -> DateTime<Utc> {
        self.0.created_at
    }
    /// Documents attached to this message.
    async fn documents(&self, ctx: &Context<'_>) -> async_graphql::Result<Option<Vec<Document>>> {
        fetch::tg_documents(ctx, &self.0.document_ids)
            .await
            .map(Some)
    }
}

/// The author of a message.
#[derive(SimpleObject)]
pub(crate) struct MessageAuthor {
    /// Display name.
    name: String,
    /// Which side of the relationship they are on.
    role: AuthorRole,
}

/// Filters on partner issues; all given conditions must hold.
#[derive(InputObject, Default)]
pub(crate) struct PartnerIssueFilter {
    /// Only this partner's issues. Partners are always limited to their own.
    pub partner_id: Option<ID>,
    /// Any of these kinds.
    pub kinds: Option<Vec<IssueKind>>,
    /// Any of these statuses.
    pub statuses: Option<Vec<IssueStatus>>,
    /// Carrying this tag.
    pub tag: Option<String>,
    /// Opened at or after this time.
    pub created_after: Option<DateTime<Utc>>,
    /// Opened before this time.
    pub created_before: Option<DateTime<Utc>>,
}
