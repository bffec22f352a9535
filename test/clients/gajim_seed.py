# Seeds a Gajim 1.7 profile (under $HOME) with one account through Gajim's own settings API, so the
# client starts straight into its main window: no account wizard, no first-start prompts.
# Usage (as the user Gajim runs as, HOME set): python3 gajim_seed.py USER DOMAIN PORT PASSWORD WIDTH HEIGHT
import sys

from gajim.common import configpaths

configpaths.init()
configpaths.create_paths()

from gajim.common import app  # noqa: E402
from gajim.common.settings import Settings  # noqa: E402

user, domain, port, password, width, height = sys.argv[1:7]
settings = Settings()
settings.init()
app.settings = settings

account = user
if account not in settings.get_accounts():
    settings.add_account(account)
for key, value in {
    'name': user, 'hostname': domain, 'resource': 'gajim',
    # The test server listens on loopback, plain TCP, PLAIN allowed (test/support/prosody.cfg.lua.template).
    'use_custom_host': True, 'custom_host': '127.0.0.1', 'custom_port': int(port),
    'custom_type': 'PLAIN', 'use_plain_connection': True,
    'confirm_unencrypted_connection': False,
    'password': password, 'savepass': True, 'active': True, 'autoconnect': True,
    'account_label': user,
}.items():
    settings.set_account_setting(account, key, value)

for key, value in {
    'use_keyring': False,
    # One fixed window, no prompts or popups over it, nothing reaching the network.
    'mainwin_width': int(width), 'mainwin_height': int(height),
    'mainwin_x_position': 0, 'mainwin_y_position': 0,
    'show_main_window_on_startup': 'always',
    'show_help_start_chat': False,
    'check_for_update': False,
    'show_trayicon': False,
    'show_notifications': False,
    'sounds_on': False,
}.items():
    settings.set(key, value)

settings.save()
print('seeded', settings.get_accounts())
