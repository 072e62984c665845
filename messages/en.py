"""English: the second locale of the citizen pages (and of the CLI when chosen)."""
from __future__ import annotations

EN: dict[str, str] = {
    "letter.applicant_type": "Choose who writes: a person or a company.",
    "letter.national_code": "The national code is not right. Enter the 10 digits of the "
                            "national card.",
    "letter.national_id": "The company's national ID is not right. Enter its 11 digits.",
    "letter.company_name": "Enter the company name.",
    "letter.first_name": "Enter the first name.",
    "letter.last_name": "Enter the last name.",
    "letter.subject": "Enter a subject (at most 200 characters).",
    "letter.body": "Enter the letter (at most 10,000 characters).",
    "letter.service": "Choose the service.",
    "letter.reason": "Write the reason for the rejection; it is texted to the applicant.",
    "survey.score": "Choose a score from 1 to 5.",
    "attachments.too_many": "You can send at most {n} attachments.",
    "attachments.too_big": "“{name}” is larger than {mb} MB.",
    "attachments.not_accepted": "“{name}” is not accepted. Only PDF, Word, Excel, JPG and PNG.",
    "attachments.archive": "“{name}” does not look like a sound Word or Excel file: unpacked it "
                           "is far larger than itself, or it is damaged. Save it again or send "
                           "it as a PDF.",
    "attachments.infected": "“{name}” has a virus and was not accepted. Nothing of it was kept. "
                            "Send a clean file.",
    "attachments.scan_down": "Attachments cannot be checked for viruses right now. Send again "
                             "in a few minutes; what you typed stays, only choose the "
                             "attachments again.",
    "attachments.scan_too_big": "“{name}” cannot be checked for viruses. Send a smaller file.",
    "attachments.gone": "The attachments you had chosen are no longer here. Please choose them "
                        "again.",
    "otp.mobile": "The mobile number is not right. Enter 11 digits like 09123456789.",
    "otp.code": "The code is wrong or has expired. Ask for a new code.",
    "otp.wrong": "The code is wrong. You can try {left} more times.",
    "otp.locked": "The code was typed wrong several times. For your safety, signing in with "
                  "this number is closed for {minutes} minutes.",
    "staff.password_short": "The password must have at least 8 characters.",
    "staff.username_taken": "This user name already exists.",
    "staff.role": "Use one of these roles: {roles}",
    "staff.orgs": "Unknown organizations: {orgs}",
    "sms.not_queued": "SMS {id} is not in the outbox",
    "sms.not_failed": "SMS {id} is “{state}”; only an SMS that did not arrive is sent again",
    "timeline.submitted": "Your letter was received and got a tracking code.",
    "timeline.awaiting_approval": "Your letter is waiting for the secretariat's review.",
    "timeline.approved": "The secretariat accepted your letter.",
    "timeline.delivered": "Your letter reached the organization's secretariat.",
    "timeline.registered": "Your letter was registered by the secretariat as number {number}.",
    "timeline.rejected": "Your letter was not accepted. Reason: {reason}",
    "timeline.referred": "Your letter was sent to {unit}.",
    "timeline.referred_to": "Your letter was sent to {unit} ({person}).",
    "timeline.answered": "Your letter was answered.",
    "timeline.closed": "Your letter's case is closed.",
    "timeline.withdrawn": "You took the letter back.",
    "timeline.other_unit": "another unit",
    "status.staged": "Received; going to the secretariat soon",
    "status.awaiting_approval": "Waiting for the secretariat's review",
    "status.approved": "Accepted by the secretariat; being sent",
    "status.delivering": "Being sent to the secretariat",
    "status.delivered": "At the secretariat; waiting to be registered",
    "status.registered": "Registered by the secretariat",
    "status.in_progress": "Being handled",
    "status.answered": "Answered",
    "status.closed": "Closed",
    "status.rejected": "Not accepted",
    "status.delivery_failed": "Being sent to the secretariat",
    "status.dead": "Being sent to the secretariat (delayed)",
    "status.withdrawn": "Taken back",
    "next.staged": "Your letter will soon reach the organization's secretariat. Any news is "
                   "texted to you.",
    "next.awaiting_approval": "A secretariat clerk reads the letter and accepts it, or texts "
                              "you the reason if not.",
    "next.delivered": "The secretariat registers the letter and texts you its number.",
    "next.registered": "The letter goes to the unit in charge.",
    "next.in_progress": "The unit in charge is handling it.",
    "next.answered": "The reply is ready.",
    "applicant.natural": "A person",
    "applicant.legal": "A company or organization",
    "reports.all_units": "All units",
    "webhook.url": "The address must start with https:// (or http://) and name a host.",
    "webhook.secret_env": "Write the name of the environment variable that holds the secret, "
                          "like WEBHOOK_SECRET (not the secret itself).",
    "webhook.types": "Unknown event types: {unknown}. The known types: {known} or *",
    "track.invalid": "The tracking code is not right. Copy its 12 digits from the SMS or the "
                     "receipt.",
    "track.not_yours": "No letter with this tracking code was found for your mobile number.",
    "withdraw.late": "The letter has gone to the secretariat and can no longer be taken back.",
    "withdraw.done": "Your letter was taken back and will not be sent to the organization.",
    "survey.closed": "Your opinion was already recorded, or the letter's case is not closed "
                     "yet.",
    "desk.mobile": "Enter the applicant's mobile number correctly (like 09121234567). The SMS "
                   "go to this number.",
    "error.bad_request": "The request is incomplete or not right.",
    "error.unauthorized": "First sign in with the code texted to your mobile number.",
    "error.forbidden": "You may not do this.",
    "error.not_found": "Not found. Check the address or the tracking code.",
    "error.method_not_allowed": "This request is not accepted in this form.",
    "error.conflict": "This is not possible in the letter's current state.",
    "error.too_large": "The files are too large.",
    "error.too_large_total": "The files are too large. All attachments together must be under "
                             "{mb} MB. Send smaller or fewer files.",
    "error.rate_limited": "Too many requests. Try again a little later.",
    "error.wait_seconds": "Please wait: try again in {n} seconds.",
    "error.wait_minutes": "Too many requests. Try again in {n} minutes.",
    "error.server_error": "Something went wrong. Try again in a few minutes.",
    "error.unavailable": "The organization's system is not answering. Try again in a few "
                         "minutes.",
    "error.validation": "What was sent is incomplete or not right. See the message by each "
                        "field.",
    "error.csrf": "This form has expired or came from elsewhere. Open the page again and send "
                  "it again.",
}
