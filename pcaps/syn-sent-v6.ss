# netns client
State    Recv-Q Send-Q Local Address:Port   Peer Address:PortProcess
SYN-SENT 0      1      [2001:db8::1]:37426 [2001:db8::2]:88         
# netns server
State Recv-Q Send-Q Local Address:Port Peer Address:PortProcess
