//! Entra ID cloud instances and the issuer forms of their tokens.

/// The issuer forms of one Entra ID cloud instance.
///
/// v2 tokens are issued as `{issuer host}/{tid}/v2.0`, v1 tokens as
/// `{v1 prefix}{tid}/`. The national clouds differ (Microsoft's table of token issuers
/// per cloud):
///
/// | cloud | login (authority) host | v2 issuer host | v1 issuer prefix |
/// |---|---|---|---|
/// | global | `https://login.microsoftonline.com` | same | `https://sts.windows.net/` |
/// | US Government | `https://login.microsoftonline.us` | same | `https://sts.windows.net/` |
/// | China (21Vianet) | `https://login.partner.microsoftonline.cn` (or the older `https://login.chinacloudapi.cn`) | same | `https://sts.chinacloudapi.cn/` |
///
/// ```
/// use erp_auth::azure::AzureCloud;
///
/// let china = AzureCloud::for_authority_host("https://login.partner.microsoftonline.cn");
/// assert_eq!(china.v1_issuer_prefix(), "https://sts.chinacloudapi.cn/");
/// assert_eq!(AzureCloud::US_GOVERNMENT.graph_host(), "https://graph.microsoft.us");
/// ```
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AzureCloud {
    issuer_host: String,
    v1_prefix: String,
    graph_host: String,
}

impl AzureCloud {
    /// The global cloud.
    pub const GLOBAL: CloudConst = CloudConst {
        issuer_host: "https://login.microsoftonline.com",
        v1_prefix: "https://sts.windows.net/",
        graph_host: "https://graph.microsoft.com",
    };
    /// Azure US Government.
    pub const US_GOVERNMENT: CloudConst = CloudConst {
        issuer_host: "https://login.microsoftonline.us",
        v1_prefix: "https://sts.windows.net/",
        graph_host: "https://graph.microsoft.us",
    };
    /// Microsoft Azure operated by 21Vianet (China).
    pub const CHINA: CloudConst = CloudConst {
        issuer_host: "https://login.partner.microsoftonline.cn",
        v1_prefix: "https://sts.chinacloudapi.cn/",
        graph_host: "https://microsoftgraph.chinacloudapi.cn",
    };

    /// The cloud whose login host is `host` (`AZURE_AUTHORITY_HOST`). A host that is no
    /// known cloud (a test fake, a proxy) issues v2 tokens under its own name and v1
    /// tokens as the global cloud does.
    pub fn for_authority_host(host: &str) -> Self {
        let host = host.trim_end_matches('/');
        match Self::known_cloud(host) {
            Some(c) => c.into(),
            None => Self {
                issuer_host: host.to_owned(),
                ..Self::GLOBAL.into()
            },
        }
    }

    /// True if `host` is the login host of one of Microsoft's clouds. Browser apps speak
    /// Entra ID's own protocol flavour there (MSAL's `protocolMode: "AAD"`) and plain
    /// OpenID Connect to any other authority (a proxy, a test provider).
    ///
    /// ```
    /// use erp_auth::azure::AzureCloud;
    ///
    /// assert!(AzureCloud::is_microsoft_login_host("https://login.microsoftonline.us/"));
    /// assert!(!AzureCloud::is_microsoft_login_host("https://127.0.0.1:8443"));
    /// ```
    pub fn is_microsoft_login_host(host: &str) -> bool {
        Self::known_cloud(host.trim_end_matches('/')).is_some()
    }

    fn known_cloud(host: &str) -> Option<CloudConst> {
        match host.to_ascii_lowercase().as_str() {
            "https://login.microsoftonline.com" => Some(Self::GLOBAL),
            "https://login.microsoftonline.us" => Some(Self::US_GOVERNMENT),
            "https://login.partner.microsoftonline.cn" => Some(Self::CHINA),
            "https://login.chinacloudapi.cn" => Some(CloudConst {
                issuer_host: "https://login.chinacloudapi.cn",
                ..Self::CHINA
            }),
            _ => None,
        }
    }

    /// v2 tokens are `{this}/{tid}/v2.0`.
    pub fn issuer_host(&self) -> &str {
        &self.issuer_host
    }

    /// v1 tokens are `{this}{tid}/`.
    pub fn v1_issuer_prefix(&self) -> &str {
        &self.v1_prefix
    }

    /// Microsoft Graph of this cloud (group overage lookups).
    pub fn graph_host(&self) -> &str {
        &self.graph_host
    }
}

/// A compile-time [`AzureCloud`] (`AzureCloud::GLOBAL`, ...); converts with `.into()`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct CloudConst {
    issuer_host: &'static str,
    v1_prefix: &'static str,
    graph_host: &'static str,
}

impl CloudConst {
    /// See [`AzureCloud::graph_host`].
    pub fn graph_host(&self) -> &'static str {
        self.graph_host
    }

    /// See [`AzureCloud::issuer_host`].
    pub fn issuer_host(&self) -> &'static str {
        self.issuer_host
    }
}

impl From<CloudConst> for AzureCloud {
    fn from(c: CloudConst) -> Self {
        Self {
            issuer_host: c.issuer_host.to_owned(),
            v1_prefix: c.v1_prefix.to_owned(),
            graph_host: c.graph_host.to_owned(),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn known_clouds_and_fakes() {
        let gov = AzureCloud::for_authority_host("https://login.microsoftonline.us/");
        assert_eq!(gov.issuer_host(), "https://login.microsoftonline.us");
        assert_eq!(gov.v1_issuer_prefix(), "https://sts.windows.net/");
        let old_china = AzureCloud::for_authority_host("https://login.chinacloudapi.cn");
        assert_eq!(old_china.issuer_host(), "https://login.chinacloudapi.cn");
        assert_eq!(
            old_china.v1_issuer_prefix(),
            "https://sts.chinacloudapi.cn/"
        );
        let fake = AzureCloud::for_authority_host("http://127.0.0.1:4000");
        assert_eq!(fake.issuer_host(), "http://127.0.0.1:4000");
        assert_eq!(fake.v1_issuer_prefix(), "https://sts.windows.net/");
    }
}
