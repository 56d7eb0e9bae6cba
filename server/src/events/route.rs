//! Which endpoints hear of an upload: its profile's own (`webhooks` in `UPLOAD_PROFILES`), else
//! `UPLOAD_WEBHOOK_URL`'s, else none. An event goes to each endpoint's outbox in the write that
//! gives its verdict, and that endpoint's deliverer is woken.

use std::collections::BTreeMap;
use std::sync::Arc;

use tokio::sync::Notify;

use super::endpoint::{Endpoint, CONFIGURED};

pub struct Routes {
    /// Each endpoint's deliverer's bell, by the endpoint's name.
    wakes: BTreeMap<String, Arc<Notify>>,
    /// Where the events of a profile without `webhooks` go: `UPLOAD_WEBHOOK_URL`'s endpoint
    /// when it is set.
    otherwise: Vec<String>,
}

impl Routes {
    /// Routes to `endpoints`, each with a bell of its own.
    pub fn new<'a>(endpoints: impl IntoIterator<Item = &'a Endpoint>) -> Self {
        let wakes: BTreeMap<String, Arc<Notify>> =
            endpoints.into_iter().map(|e| (e.name.clone(), Arc::new(Notify::new()))).collect();
        let otherwise =
            wakes.contains_key(CONFIGURED).then(|| CONFIGURED.to_owned()).into_iter().collect();
        Self { wakes, otherwise }
    }

    /// The bell `endpoint`'s deliverer waits on.
    pub fn wake(&self, endpoint: &str) -> Arc<Notify> {
        self.wakes.get(endpoint).cloned().unwrap_or_default()
    }

    /// The endpoints of a profile whose own are `own` (`None`: it names none).
    pub fn endpoints<'a>(&'a self, own: Option<&'a [String]>) -> &'a [String] {
        own.unwrap_or(&self.otherwise)
    }

    /// Whether the events of a profile whose own endpoints are `own` go to `endpoint`, when
    /// that is configured (what [`Routes::endpoints`] answers, for one endpoint).
    pub fn goes_to(own: Option<&[String]>, endpoint: &str) -> bool {
        own.map_or(endpoint == CONFIGURED, |own| own.iter().any(|e| e == endpoint))
    }

    /// Wakes the deliverers of `endpoints`: an event is in their outboxes.
    pub fn ring(&self, endpoints: &[String]) {
        for endpoint in endpoints {
            if let Some(wake) = self.wakes.get(endpoint) {
                wake.notify_one();
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::events::signature::Secrets;

    fn endpoint(name: &str) -> Endpoint {
        let secrets = Secrets::parse("whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw").unwrap();
        Endpoint::new(name, "http://127.0.0.1:9/", secrets).unwrap()
    }

    #[test]
    fn a_profile_with_its_own_endpoints_uses_them_and_the_others_the_configured_one() {
        let both = [endpoint(CONFIGURED), endpoint("billing")];
        let routes = Routes::new(&both);
        let own = vec!["billing".to_owned()];
        assert_eq!(routes.endpoints(Some(&own)), ["billing"]);
        assert_eq!(routes.endpoints(Some(&[])), [] as [String; 0], "webhooks = []: no events");
        assert_eq!(routes.endpoints(None), [CONFIGURED]);
        // Without UPLOAD_WEBHOOK_URL, a profile that names none has no events.
        let routes = Routes::new(&both[1..]);
        assert!(routes.endpoints(None).is_empty());
        assert!(Routes::goes_to(None, CONFIGURED) && !Routes::goes_to(None, "billing"));
        assert!(Routes::goes_to(Some(&own), "billing") && !Routes::goes_to(Some(&own), CONFIGURED));
    }
}
