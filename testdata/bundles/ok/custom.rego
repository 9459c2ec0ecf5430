package gatehouse.custom

deny contains {"reason": "maintenance"} if input.request.headers["x-maintenance"] == "on"
