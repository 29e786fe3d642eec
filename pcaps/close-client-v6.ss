# netns client
State     Recv-Q Send-Q Local Address:Port   Peer Address:PortProcess
TIME-WAIT 0      0      [2001:db8::1]:57878 [2001:db8::2]:81         
# netns server
State  Recv-Q Send-Q Local Address:Port Peer Address:PortProcess
LISTEN 0      4096   [2001:db8::2]:81           [::]:*          
