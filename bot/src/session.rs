//! Login: the session (file mode 0600) and the SDK's SQLite store (sync token, E2EE keys) live
//! in `data_dir/matrix/`, so a restart is the same device.

use std::path::{Path, PathBuf};

use matrix_sdk::Client;
use matrix_sdk::authentication::matrix::MatrixSession;
use matrix_sdk::store::RoomLoadSettings;
use rathaus_shared::App;
use rathaus_shared::config::MatrixConfig;
use secrecy::ExposeSecret;

use crate::Error;

fn store_dir(app: &App) -> PathBuf {
    app.config.data_dir.join("matrix")
}

/// Restores the stored session, or logs in with the configured token or password.
pub async fn login(app: &App, config: &MatrixConfig) -> Result<Client, Error> {
    let dir = store_dir(app);
    std::fs::create_dir_all(&dir)
        .map_err(|e| Error::Other(format!("matrix store {}: {e}", dir.display())))?;
    let session_file = dir.join("session.json");
    let client = Client::builder()
        .homeserver_url(config.homeserver_url.as_str())
        .sqlite_store(dir.join("store"), None)
        .respect_login_well_known(false)
        .build()
        .await?;
    if let Ok(text) = std::fs::read_to_string(&session_file) {
        let session: MatrixSession =
            serde_json::from_str(&text).map_err(|e| Error::Other(format!("session file: {e}")))?;
        client
            .matrix_auth()
            .restore_session(session, RoomLoadSettings::default())
            .await?;
        tracing::info!("matrix session restored");
        return Ok(client);
    }
    if let Some(token) = &config.access_token {
        let session = session_of_token(config, token.expose_secret()).await?;
        client
            .matrix_auth()
            .restore_session(session, RoomLoadSettings::default())
            .await?;
    } else {
        let password = config.password.as_ref().ok_or_else(|| {
            Error::Other("matrix.password or matrix.access_token is needed".into())
        })?;
        client
            .matrix_auth()
            .login_username(&config.user_id, password.expose_secret())
            .initial_device_display_name(&config.device_name)
            .await?;
    }
    let session = client
        .matrix_auth()
        .session()
        .ok_or_else(|| Error::Other("no session after login".into()))?;
    let text = serde_json::to_string(&session).map_err(|e| Error::Other(e.to_string()))?;
    write_private(&session_file, &text)?;
    tracing::info!("matrix login done; session stored");
    Ok(client)
}

/// A token from the operator: asks the server which user and device it belongs to.
async fn session_of_token(config: &MatrixConfig, token: &str) -> Result<MatrixSession, Error> {
    let who: serde_json::Value = reqwest::Client::new()
        .get(format!(
            "{}/_matrix/client/v3/account/whoami",
            config.homeserver_url.as_str().trim_end_matches('/')
        ))
        .bearer_auth(token)
        .send()
        .await
        .and_then(reqwest::Response::error_for_status)
        .map_err(|e| Error::Other(format!("matrix.access_token is not accepted: {e}")))?
        .json()
        .await
        .map_err(|e| Error::Other(format!("whoami: {e}")))?;
    let (Some(user), Some(device)) = (who["user_id"].as_str(), who["device_id"].as_str()) else {
        return Err(Error::Other("whoami did not name a user and device".into()));
    };
    Ok(MatrixSession {
        meta: matrix_sdk::SessionMeta {
            user_id: user
                .try_into()
                .map_err(|e| Error::Other(format!("whoami user: {e}")))?,
            device_id: device.into(),
        },
        tokens: matrix_sdk::SessionTokens {
            access_token: token.to_owned(),
            refresh_token: None,
        },
    })
}

/// Writes a file only its owner can read (it holds the access token).
fn write_private(path: &Path, text: &str) -> Result<(), Error> {
    use std::io::Write;
    use std::os::unix::fs::OpenOptionsExt;
    let mut file = std::fs::OpenOptions::new()
        .write(true)
        .create(true)
        .truncate(true)
        .mode(0o600)
        .open(path)
        .map_err(|e| Error::Other(format!("{}: {e}", path.display())))?;
    file.write_all(text.as_bytes())
        .map_err(|e| Error::Other(format!("{}: {e}", path.display())))
}
