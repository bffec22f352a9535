-- Prosody 0.12 for the docker-compose stack: the XMPP host plus Passerelle's component.
-- Mounted read-only at /etc/prosody/prosody.cfg.lua in the prosody/prosody:0.12 image.
-- Check it with: prosodyctl --config /etc/prosody/prosody.cfg.lua check config
-- For an existing server, see docs/xmpp-servers.md: only the Component block is needed.
--
-- Values come from the container environment: Prosody 0.12 resolves any name starting with
-- ENV_ to os.getenv() of the rest (ENV_XMPP_SECRET reads $XMPP_SECRET), so no secret is in this file.

local xmpp_host = ENV_PROSODY_HOST or "jabber.tcweb.org"
local gateway = ENV_XMPP_DOMAIN or ("mail." .. xmpp_host)
local secret = ENV_XMPP_SECRET
assert(secret and secret ~= "", "XMPP_SECRET is not set: Passerelle's component needs it")

---------- Server-wide settings ----------
admins = { }

modules_enabled = {
	"roster"; "saslauth"; "tls"; "dialback";
	"disco";     -- service discovery: clients find the gateway's features
	"ping";      -- XEP-0199: Passerelle pings to prove its link is alive
	"offline";   -- autoloaded anyway: mail for an offline user waits in its offline store
	"carbons"; "blocklist"; "pep"; "private"; "vcard_legacy"; "smacks"; "csi_simple";
	"version"; "uptime"; "time";
}

-- Logs go to the container's stdout (docker logs).
log = { info = "*console" }

authentication = "internal_hashed"
storage = "internal"               -- files under /var/lib/prosody (a volume in docker-compose.yml)
certificates = "certs"             -- /etc/prosody/certs: <host>.crt and <host>.key, mounted read-only
-- Chat is many small stanzas: with Nagle's algorithm a stanza waits for the client's delayed ACK of
-- the one before (up to 40 ms). Measured with Passerelle's benchmark, mail at 200/s, from the SMTP 250 to
-- the chat client: p99 41-70 ms with Nagle, 30-33 ms without (BENCHMARKS.md).
network_settings = { nagle = false }
c2s_require_encryption = true
s2s_secure_auth = true

-- XEP-0114 component port. In the container it must listen on all interfaces so the passerelle
-- container can reach it over the compose network; docker-compose.yml does NOT publish 5347.
-- On a bare-metal server leave component_interfaces unset (default: loopback only).
component_ports = { 5347 }
component_interfaces = { "0.0.0.0" }

---------- Virtual host ----------
VirtualHost (xmpp_host)
	-- XEP-0356 (docs/xmpp-servers.md, Privileges): Passerelle names correspondents in its users' rosters
	-- and shows the mail a user wrote as a message they sent (carbons, archive). mod_privilege is a
	-- community module: Debian's prosody-modules package; in the prosody/prosody image,
	-- `prosodyctl install --server=https://modules.prosody.im/rocks/ mod_privilege`. Without it Prosody
	-- logs that the module is missing and Passerelle falls back to subscription requests with names.
	modules_enabled = { "privilege" }
	privileged_entities = {
		[gateway] = { roster = "both"; message = "outgoing" };
	}

---------- Passerelle ----------
Component (gateway)
	component_secret = secret
	-- The default "kick_new" refuses every reconnect while a half-dead old session lingers.
	component_conflict_resolve = "kick_old"
	-- mod_privilege must be loaded on the component too (README_mod_privilege).
	modules_enabled = { "privilege" }
	-- Defaults kept on purpose: stanzas from outside the component's domain end the stream,
	-- and 512 KiB is the size limit (Passerelle stays well under it).
	-- validate_from_addresses = true
	-- component_stanza_size_limit = 512 * 1024

---------- Optional: file uploads (XEP-0363) ----------
-- Lets Passerelle put mail attachments on an upload service. Needs HTTP(S) published (5280/5281)
-- and a certificate for the upload domain.
-- Component ("upload." .. xmpp_host) "http_file_share"
-- 	http_file_share_access = { gateway }
-- 	http_file_share_size_limit = 10 * 1024 * 1024   -- default 10 MiB
-- 	http_file_share_expires_after = 7 * 86400      -- default one week
