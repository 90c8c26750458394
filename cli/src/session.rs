//! `arca session`: open (or reopen), renew and close sessions.

use arca_client::{Client, pb};
use serde_json::json;

use crate::args::SessionCommand;
use crate::support::*;

pub(crate) async fn run(
    client: &Client,
    out: &Out,
    command: SessionCommand,
) -> Result<(), Failure> {
    let mut sessions = client.sessions.clone();
    match command {
        SessionCommand::Open { user, ttl, name } => {
            let opened = sessions
                .open_session(pb::OpenSessionRequest {
                    user,
                    ttl: seconds(ttl),
                    sandbox: String::new(),
                    name,
                })
                .await?
                .into_inner();
            let id = opened.session.map(|s| s.session_id).unwrap_or_default();
            let shown =
                json!({"session_id": id, "token": opened.token, "reopened": opened.reopened});
            out.show(shown, || format!("{id}\n{}", opened.token));
        }
        SessionCommand::Renew { session, ttl } => {
            let renewed = sessions
                .renew_session(pb::RenewSessionRequest {
                    session_id: session.unwrap_or_default(),
                    ttl: seconds(ttl),
                })
                .await?
                .into_inner();
            out.show(json!({"session_id": renewed.session_id}), String::new);
        }
        SessionCommand::Close { session } => {
            let closed = sessions
                .close_session(pb::CloseSessionRequest {
                    session_id: session.unwrap_or_default(),
                })
                .await?
                .into_inner();
            out.show(
                json!({"namespaces_destroyed": closed.namespaces_destroyed}),
                String::new,
            );
        }
    }
    Ok(())
}
