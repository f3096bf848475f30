"""Fixed ids of the demo scenario (emulator/scenarios/demo.json)."""

CONTOSO = "0ec098e5-b929-47d3-a4de-b2f969d0ba5b"
FABRIKAM = "3197bd27-109d-45f9-bdce-8200dec65df6"
NORTHWIND = "c721af65-e2e9-4315-add6-935f3d17c8d6"
WOODGROVE = "b632bd77-5d1b-4ed9-b465-bdb51268f8f1"
TAILSPIN = "a2d9358c-f752-4d74-8279-47053b42bc40"

CONTOSO_SUB = "d3abb81d-851b-4948-87e4-035350bd1eee"
FABRIKAM_SUB = "a8c02436-e607-478d-aa9c-f223ff5aabfd"
# The publisher's own resource group where the demo keeps its jitRequests.
JIT_SCOPE = f"/subscriptions/{CONTOSO_SUB}/resourceGroups/jit-requests"
# The demo's history: finished requests of the last five months (reason and ticket in tags).
HISTORY = tuple(f"jith{n:02d}" for n in range(1, 18))
NORTHWIND_SUB = "7de4da82-cfe9-46de-840f-81ac7c289eee"
WOODGROVE_SUB = "b4ada22b-090d-4aa2-a27f-8119ce092cad"

ALICE = "2029a5ca-c529-486a-ba15-f25657670ce5"
BOB = "447c311b-ab1a-4a25-aeaf-983783794f74"
CAROL = "b376206c-f644-43d3-af0b-79222eaf261c"
DAVE = "44edde92-224d-4645-a5ce-1950e597f055"
CHARLIE = "9c6395d3-4420-4edc-8a5f-facb2cebda2d"
WENDY = "b18aa00d-be3f-4476-ac08-180d2b0aec96"
TOM = "15f79364-a942-444c-a1eb-26ecf816a536"
PAT = "fe96399b-4112-4390-b6f7-5d487005120c"
PAULA = "e633a9ff-24c3-4954-8ddd-d2893245e3f3"
OLIVIA = "9af3d8b9-20da-4ebf-8f91-4453b2cae182"

PORTAL_CLIENT_ID = "4b8abcd2-0b88-4c0a-a9e6-4134635226ce"
PORTAL_SECRET = "portal-emulator-secret"
PUBLISHER_CLIENT_ID = "b12f8d01-79b3-4b4e-853c-e2bbcd9ccb44"
PUBLISHER_SECRET = "publisher-emulator-secret"
PUBLISHER_SP = "c245099c-5407-493f-9eeb-4b52d12f3024"

OWNER = "8e3af657-a8ff-443c-a75c-2fe8c4bcb635"
CONTRIBUTOR = "b24988ac-6180-42a0-ab88-20f7382dd24c"
READER = "acdd72a7-3385-48ef-bd42-f606fba81ae7"

FAB_MONITORING = f"/subscriptions/{FABRIKAM_SUB}/resourceGroups/rg-monitoring/providers/Microsoft.Solutions/applications/fabrikam-monitoring"
FAB_MONITORING_MRG = f"/subscriptions/{FABRIKAM_SUB}/resourceGroups/mrg-fabrikam-monitoring"
FAB_BACKUP = f"/subscriptions/{FABRIKAM_SUB}/resourceGroups/rg-backup/providers/Microsoft.Solutions/applications/fabrikam-backup"
FAB_SQL = f"/subscriptions/{FABRIKAM_SUB}/resourceGroups/rg-sql/providers/Microsoft.Solutions/applications/fabrikam-sql"
FAB_SQL_MRG = f"/subscriptions/{FABRIKAM_SUB}/resourceGroups/mrg-fabrikam-sql"
FAB_SANDBOX = f"/subscriptions/{FABRIKAM_SUB}/resourceGroups/rg-sandbox/providers/Microsoft.Solutions/applications/fabrikam-sandbox"
FAB_SANDBOX_MRG = f"/subscriptions/{FABRIKAM_SUB}/resourceGroups/mrg-fabrikam-sandbox"
WOODGROVE_MONITORING = f"/subscriptions/{WOODGROVE_SUB}/resourceGroups/rg-managed-apps/providers/Microsoft.Solutions/applications/woodgrove-monitoring"
