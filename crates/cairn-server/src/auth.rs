//! Authentication: from a signed request to a [`Principal`].
//!
//! Every API request must carry an SLS signature (V1 `LOG id:sig` or V4
//! `SLS4-HMAC-SHA256`). The key id is looked up in IAM (temporary `STS.` keys must also present
//! their security token in `x-acs-security-token`, which both signature versions sign), the
//! signature recomputed over the request as received and compared in constant time, and the
//! request time checked against a 15-minute window so a captured request cannot be replayed
//! later. Nothing here logs a secret.

use cairn_iam::Principal;
use cairn_model::AccessKeyId;
use cairn_protocol::signing::{self, Authorization, SigningRequest};

use crate::error::ApiError;
use crate::request::ApiRequest;
use crate::state::ServerState;

/// How far a request's time may be from the server's, either way.
pub const MAX_CLOCK_SKEW_SECONDS: i64 = 15 * 60;

/// Checks the request's signature and returns who sent it.
pub async fn authenticate(
    state: &ServerState,
    request: &ApiRequest,
) -> Result<Principal, ApiError> {
    let Some(header) = request.header("authorization") else {
        return Err(ApiError::new(
            axum::http::StatusCode::UNAUTHORIZED,
            "Unauthorized",
            "the request is not signed: send an Authorization header (SLS signature V1 or V4)",
        ));
    };
    let authorization = signing::parse_authorization(header)?;
    let key_id_text = match &authorization {
        Authorization::V1 { access_key_id, .. } | Authorization::V4 { access_key_id, .. } => {
            access_key_id
        }
    };
    let key_id = AccessKeyId::parse(key_id_text).map_err(|_| {
        ApiError::new(
            axum::http::StatusCode::UNAUTHORIZED,
            "InvalidAccessKeyId",
            "the AccessKey id does not exist",
        )
    })?;
    let security_token = request.header("x-acs-security-token");
    let (principal, secret) = state
        .iam
        .authenticate(&key_id, security_token, Some(request.source_ip()))
        .await?;

    let request_time = signing::request_time(&authorization, &request.headers)?;
    let now = chrono::Utc::now().timestamp();
    if (now - request_time).abs() > MAX_CLOCK_SKEW_SECONDS {
        return Err(ApiError::new(
            axum::http::StatusCode::BAD_REQUEST,
            "RequestTimeExpired",
            format!(
                "the request time is {} seconds away from the server time; the limit is {MAX_CLOCK_SKEW_SECONDS}",
                (now - request_time).abs()
            ),
        ));
    }

    let signing_request = SigningRequest {
        method: request.method.as_str(),
        path: &request.path,
        query: &request.query,
        headers: &request.headers,
        body: &request.body,
    };
    signing::verify(secret.expose(), &authorization, &signing_request)?;
    let is_temporary = key_id.as_str().starts_with("STS.");
    if !is_temporary {
        if let Err(error) = state.iam.record_key_use(&key_id).await {
            tracing::warn!(%error, access_key_id = %key_id, "could not record AccessKey use");
        }
    }

    Ok(principal)
}
