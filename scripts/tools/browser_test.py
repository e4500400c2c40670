#!/usr/bin/env python3
"""The web app in a real browser: headless Chromium driven by selenium, finding every control
by the visible name DESIGN.md gives it (a label's text, a button's text, a link's text).

    browser_test.py BASE_URL ADMIN_TOKEN SCREENSHOT_DIR HOLD_TTL_SECONDS

Walks: the page weight; an operator creating an event and a category that then appears on the
on-sale list; register; a wrong password; log in (keyboard only); reserve, the countdown, a
failed payment then a retry, the booking in My bookings; cancel; sold out; an expired hold.
Saves a screenshot of each page at 375 and 1440 px wide (and of the page a check failed on).
Prints one line per check; exits 1 on the first failure.
"""
import json
import os
import sys
import time
import urllib.request
import uuid

from selenium import webdriver
from selenium.common.exceptions import NoSuchElementException, StaleElementReferenceException, TimeoutException
from selenium.webdriver.common.by import By
from selenium.webdriver.common.keys import Keys
from selenium.webdriver.support.ui import WebDriverWait

BASE, ADMIN, SHOTS, TTL = sys.argv[1].rstrip("/"), sys.argv[2], sys.argv[3], int(sys.argv[4])
os.makedirs(SHOTS, exist_ok=True)

options = webdriver.ChromeOptions()
for arg in ("--headless=new", "--no-sandbox", "--disable-dev-shm-usage", "--window-size=1440,1000"):
    options.add_argument(arg)
options.binary_location = "/usr/bin/chromium"
driver = webdriver.Chrome(service=webdriver.ChromeService(executable_path="/usr/bin/chromedriver"), options=options)
passed = 0


def shot(name):
    """The page at 1440 and at 375 px wide."""
    for width in (1440, 375):
        driver.set_window_size(width, 1000)
        time.sleep(0.2)
        driver.save_screenshot(os.path.join(SHOTS, f"{name}-{width}.png"))
    driver.set_window_size(1440, 1000)


def check(ok, what):
    global passed
    if not ok:
        driver.save_screenshot(os.path.join(SHOTS, "failed.png"))
        print(f"  FAIL  {what} (at {driver.current_url}; screenshot failed.png)")
        driver.quit()
        sys.exit(1)
    passed += 1
    print(f"  ok    {what}")


def wait(condition, what, timeout=15):
    try:
        # A page that re-renders replaces its elements: a stale one means "look again".
        found = WebDriverWait(driver, timeout, poll_frequency=0.2, ignored_exceptions=(StaleElementReferenceException, NoSuchElementException)
                              ).until(lambda d: condition())
    except TimeoutException:
        check(False, what)
    if not what.startswith(("a control labelled", "a '", "the '")):  # finding a control is not a check of its own
        check(True, what)
    return found


def by_label(text, within=None):
    """The control whose <label> reads `text`."""
    root = within or driver
    label = wait(lambda: next((l for l in root.find_elements(By.TAG_NAME, "label") if l.text.strip() == text and l.is_displayed()), None),
                 f"a control labelled '{text}'")
    return driver.find_element(By.ID, label.get_attribute("for"))


def button(text, within=None):
    root = within or driver
    return wait(lambda: next((b for b in root.find_elements(By.TAG_NAME, "button") if b.text.strip() == text and b.is_displayed()), None),
                f"a '{text}' button")


def link(text):
    return wait(lambda: next((a for a in driver.find_elements(By.TAG_NAME, "a") if a.text.strip() == text and a.is_displayed()), None),
                f"a '{text}' link")


def alert_text(within=None):
    root = within or driver
    return " ".join(a.text for a in root.find_elements(By.CSS_SELECTOR, "[role=alert]") if a.text.strip())


def open_page(path):
    driver.get(BASE + path)
    wait(lambda: driver.execute_script("return document.readyState") == "complete" and "Loading" not in driver.find_element(By.ID, "main").text,
         f"{path} shows")


def fill(control, value):
    control.clear()
    control.send_keys(value)


def category_form(name):
    return wait(lambda: next((f for f in driver.find_elements(By.TAG_NAME, "form") if f.get_attribute("aria-label") == name), None),
                f"the '{name}' category")


# The page weight: every script and stylesheet of the app, uncompressed.
weight = 0
shell = urllib.request.urlopen(BASE + "/app/").read().decode()
for name in ["app.css", "main.js", "page-list.js", "page-event.js", "page-checkout.js", "page-bookings.js", "page-register.js",
             "page-login.js", "page-logout.js", "page-admin.js", "page-admin-event.js", "page-queue.js"]:
    weight += len(urllib.request.urlopen(f"{BASE}/app/assets/{name}").read())
check(weight < 100_000, f"all JS and CSS of the app weigh {weight} bytes (< 100 KB)")
check("http" not in shell.replace(BASE, ""), "the shell loads nothing from another host")

# An operator creates an event and a category (the admin token put where the app keeps it).
run = uuid.uuid4().hex[:8]
event_name = f"Browser Tour {run}"
open_page("/app/")
driver.execute_script("sessionStorage.setItem('boxoffice.token', arguments[0])", ADMIN)
open_page("/app/admin")
fill(by_label("Name"), event_name)
fill(by_label("Venue"), "Test Arena")
# Tomorrow evening: the lists show the soonest events first.
starts = time.strftime("%Y-%m-%dT20:30", time.localtime(time.time() + 86_400))
driver.execute_script("arguments[0].value = arguments[1]", by_label("Starts at"), starts)
button("Create event").click()
form = category_form(event_name)
fill(by_label("Category", form), "floor")
fill(by_label("Stock", form), "3")
fill(by_label("Price", form), "12.50")
button("Add category", form).click()
wait(lambda: "floor (3)" in category_form(event_name).text, "the category shows under its event")
shot("admin")
event_link = category_form(event_name).find_element(By.TAG_NAME, "a")
event_id = event_link.get_attribute("href").rsplit("/", 1)[1]
event_link.click()
wait(lambda: "floor" in driver.find_element(By.TAG_NAME, "table").text and "Reserves" in driver.find_element(By.ID, "main").text,
     "the on-sale view shows the category")
shot("admin-event")
link("Log out").click()
wait(lambda: link("Log in"), "logged out")

# The new event is on the on-sale list.
open_page("/app/")
# Events are listed soonest first, a page at a time: earlier ones (other tests') may come before it.
for _ in range(80):
    if any(a.text == event_name for a in driver.find_elements(By.TAG_NAME, "a")):
        break
    more = [b for b in driver.find_elements(By.TAG_NAME, "button") if b.text.strip() == "More events" and b.is_displayed()]
    if not more:
        time.sleep(0.3)
        continue
    more[0].click()
    time.sleep(0.3)
wait(lambda: any(a.text == event_name for a in driver.find_elements(By.TAG_NAME, "a")), "the new event is on the on-sale list")
shot("list")

# Register (the app checks the rules first), then log out and back in.
email = f"buyer-{run}@example.com"
open_page("/app/register")
fill(by_label("Name"), "Browser Buyer")
fill(by_label("Email"), "not-an-email")
fill(by_label("Password"), "short")
button("Register").click()
wait(lambda: "valid email" in alert_text() and "8 to 72" in alert_text(), "bad input is explained beside its fields")
shot("register")
fill(by_label("Email"), email)
fill(by_label("Password"), "correct-horse-1")
button("Register").click()
wait(lambda: link("Log out"), "registered and logged in")
link("Log out").click()
open_page("/app/login")
fill(by_label("Email"), email)
fill(by_label("Password"), "wrong-password")
button("Log in").click()
wait(lambda: alert_text(), "a wrong password is refused with a message")
check("password" in alert_text().lower() or "invalid" in alert_text().lower(), f"the message says why: '{alert_text()}'")
shot("login")
# Keyboard only: type, tab, type, enter.
fill(by_label("Email"), email)
by_label("Email").send_keys(Keys.TAB, Keys.CONTROL, "a", Keys.NULL, "correct-horse-1", Keys.ENTER)
wait(lambda: link("Log out"), "logged in with the keyboard alone")
check(driver.execute_script("return sessionStorage.getItem('boxoffice.token') !== null") and "token" not in driver.current_url,
      "the token is in sessionStorage, not in the URL")

# Reserve one ticket; the checkout counts down; a failed payment, then a paid retry.
open_page(f"/app/events/{event_id}")
shot("event")
floor = category_form("floor")
fill(by_label("Quantity", floor), "1")
button("Reserve", floor).click()
wait(lambda: "/app/reservations/" in driver.current_url, "Reserve leads to the checkout")
clock = wait(lambda: driver.find_element(By.CLASS_NAME, "countdown"), "a countdown")
first = clock.text
wait(lambda: clock.text != first, "the countdown runs")
shot("checkout")
driver.refresh()
wait(lambda: driver.find_element(By.CLASS_NAME, "countdown").text, "the checkout survives a reload")
by_label("Payment fails").click()
button("Pay").click()
wait(lambda: "Payment failed" in alert_text(), "a failed payment is explained and can be retried")
by_label("Payment fails").click()
button("Pay").click()
wait(lambda: "confirmed" in driver.find_element(By.ID, "main").text, "the retry pays")
shot("paid")
open_page("/app/bookings")
deadline = time.time() + 20
while time.time() < deadline and "confirmed" not in driver.find_element(By.TAG_NAME, "tbody").text:
    time.sleep(1)
    driver.refresh()
    wait(lambda: driver.find_elements(By.TAG_NAME, "tbody"), "the bookings table")
check(event_id in driver.find_element(By.TAG_NAME, "tbody").text and "confirmed" in driver.find_element(By.TAG_NAME, "tbody").text,
      "the booking is in My bookings, confirmed")
shot("bookings")

# Cancel gives the hold back.
open_page(f"/app/events/{event_id}")
button("Reserve", category_form("floor")).click()
wait(lambda: "/app/reservations/" in driver.current_url, "a second hold")
button("Cancel").click()
wait(lambda: "Cancelled" in driver.find_element(By.ID, "main").text, "Cancel gives the hold back")

# Sold out: 2 left, 3 asked.
open_page(f"/app/events/{event_id}")
floor = category_form("floor")
fill(by_label("Quantity", floor), "3")
button("Reserve", floor).click()
wait(lambda: "Sold out" in alert_text(floor), "sold out gets a plain message")
shot("sold-out")

# An expired hold (the hold time of this API is short).
fill(by_label("Quantity", floor), "1")
button("Reserve", floor).click()
wait(lambda: "/app/reservations/" in driver.current_url, "a hold to let lapse")
wait(lambda: "expired" in driver.find_element(By.ID, "main").text, "the checkout shows the hold expired", timeout=TTL + 15)
shot("expired")

# A seated event: the seat map drawn, two seats picked and reserved, a seat another buyer takes
# turning grey while the page is open, and Best available.
def admin_call(method, path, body):
    request = urllib.request.Request(f"{BASE}{path}", method=method, data=json.dumps(body).encode(),
                                     headers={"Authorization": f"Bearer {ADMIN}", "Content-Type": "application/json"})
    with urllib.request.urlopen(request) as answer:
        return json.loads(answer.read() or b"null")


seated = admin_call("POST", "/events", {"name": "Seated concert", "venue": "Hall", "starts_at": "2030-05-01T19:00:00Z"})["id"]
admin_call("POST", f"/events/{seated}/ticket-category", {"name": "stalls", "total_stock": 1, "price": 6500})
admin_call("PUT", f"/events/{seated}/categories/stalls/seats",
           {"sections": [{"name": "Stalls", "rows": [{"name": str(r), "seats": [str(i) for i in range(1, 13)]} for r in range(1, 6)]}]})
open_page(f"/app/events/{seated}")
shot("seats-event")
link("Choose seats on the map").click()
wait(lambda: len(driver.find_elements(By.CSS_SELECTOR, "rect.seat.free")) == 60, "the seat map is drawn, every seat free")
for seat in ("Stalls-1-6", "Stalls-1-7"):
    driver.find_element(By.CSS_SELECTOR, f'rect[data-seat="{seat}"]').click()
wait(lambda: "Picked: Stalls-1-6, Stalls-1-7" in driver.find_element(By.ID, "main").text, "the picked seats are listed")
shot("seats")
button("Reserve picked seats").click()
wait(lambda: "/app/reservations/" in driver.current_url and "Seats: Stalls-1-6, Stalls-1-7" in driver.find_element(By.ID, "main").text,
     "the checkout shows the seats picked")
shot("seats-checkout")
open_page(f"/app/events/{seated}/seats")
wait(lambda: "taken" in driver.find_element(By.CSS_SELECTOR, 'rect[data-seat="Stalls-1-6"]').get_attribute("class"), "held seats are drawn taken")
admin_call("POST", "/reserve", {"event_id": seated, "category": "stalls", "seats": ["Stalls-5-12"]})
wait(lambda: "taken" in driver.find_element(By.CSS_SELECTOR, 'rect[data-seat="Stalls-5-12"]').get_attribute("class"),
     "a seat another buyer takes turns grey while the page is open")
fill(by_label("Quantity"), "3")
button("Best available").click()
wait(lambda: "/app/reservations/" in driver.current_url and "Seats: Stalls-1-3, Stalls-1-4, Stalls-1-5" in driver.find_element(By.ID, "main").text,
     "Best available holds three seats side by side in the front row")

# The event gets a waiting room: Reserve leads to it, Join the queue, admitted, then reserve.
request = urllib.request.Request(f"{BASE}/events/{event_id}/queue", method="PUT",
                                 data=json.dumps({"opens_at": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(time.time() - 5)),
                                                  "admit_per_minute": 600}).encode(),
                                 headers={"Authorization": f"Bearer {ADMIN}", "Content-Type": "application/json"})
check(urllib.request.urlopen(request).status == 200, "the operator puts a waiting room in front of the event")
open_page(f"/app/events/{event_id}")
button("Reserve", category_form("floor")).click()
wait(lambda: driver.current_url.endswith(f"/app/events/{event_id}/queue"), "without admission, Reserve leads to the waiting room")
shot("queue")
button("Join the queue").click()
wait(lambda: driver.current_url.endswith(f"/app/events/{event_id}"), "admitted, the buyer is taken back to the tickets")
button("Reserve", category_form("floor")).click()
wait(lambda: "/app/reservations/" in driver.current_url, "an admitted buyer reserves")

driver.quit()
print(f"browser: {passed} passed, 0 failed (screenshots in {SHOTS})")
