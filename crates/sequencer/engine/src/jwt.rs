use alloy_rpc_types_engine::{Claims, JwtSecret};
use http::{HeaderValue, Request, header::AUTHORIZATION};
use tower::{Layer, Service};

/// A tower layer that puts `Authorization: Bearer <jwt>` on every request, minting a fresh
/// token (`iat` = now, no `exp`) each time, as the Engine API authentication spec expects
/// (reth rejects tokens whose `iat` is more than 60 s off).
#[derive(Clone, Debug)]
pub struct JwtAuthLayer {
    secret: JwtSecret,
}

impl JwtAuthLayer {
    /// A layer signing with `secret`.
    pub const fn new(secret: JwtSecret) -> Self {
        Self { secret }
    }
}

impl<S> Layer<S> for JwtAuthLayer {
    type Service = JwtAuth<S>;

    fn layer(&self, inner: S) -> Self::Service {
        JwtAuth { inner, secret: self.secret }
    }
}

/// The service of [`JwtAuthLayer`].
#[derive(Clone, Debug)]
pub struct JwtAuth<S> {
    inner: S,
    secret: JwtSecret,
}

impl<S, B> Service<Request<B>> for JwtAuth<S>
where
    S: Service<Request<B>>,
{
    type Response = S::Response;
    type Error = S::Error;
    type Future = S::Future;

    fn poll_ready(
        &mut self,
        cx: &mut std::task::Context<'_>,
    ) -> std::task::Poll<Result<(), Self::Error>> {
        self.inner.poll_ready(cx)
    }

    fn call(&mut self, mut req: Request<B>) -> Self::Future {
        // HS256 signing cannot fail for a 32-byte key; if it ever did, the request goes out
        // without a token and the server's 401 surfaces as a transport error.
        match self.secret.encode(&Claims::with_current_timestamp()) {
            Ok(token) => {
                if let Ok(value) = HeaderValue::from_str(&format!("Bearer {token}")) {
                    req.headers_mut().insert(AUTHORIZATION, value);
                }
            }
            Err(err) => tracing::error!(%err, "failed to sign engine API JWT"),
        }
        self.inner.call(req)
    }
}
